using Crate.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Spectre.Console;

namespace Crate.Samples;

/// <summary>
/// What the samples show while a CRATE trains: a progress bar fed by the trainer's reports, a line per epoch (loss,
/// training and validation accuracy), and the trainer's own notes (device, starting weights, resumption, early stop,
/// checkpoints) and every warning from ML.NET's log.
/// </summary>
internal static class ConsoleTraining
{
    /// <summary>Shows the trainer's notes and ML.NET's warnings of <paramref name="context"/> on <paramref name="console"/>.</summary>
    public static void ShowLog(MLContext context, IAnsiConsole console)
    {
        context.Log += (_, e) =>
        {
            bool trainerNote = e.Kind == ChannelMessageKind.Info && e.Source.StartsWith(nameof(CrateTrainer), StringComparison.Ordinal)
                && !e.RawMessage.StartsWith("Epoch ", StringComparison.Ordinal);
            if (trainerNote) console.MarkupLineInterpolated($"[grey]{e.RawMessage}[/]");
            else if (e.Kind >= ChannelMessageKind.Warning) console.MarkupLineInterpolated($"[yellow]{e.RawMessage}[/]");
        };
    }

    /// <summary>Runs <paramref name="fit"/> under a progress bar that <paramref name="options"/>' reports move.</summary>
    public static T Train<T>(IAnsiConsole console, string title, CrateTrainerOptions options, Func<T> fit)
    {
        Action<CrateTrainingProgress>? previous = options.Progress;
        try
        {
            return console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(progress =>
                {
                    ProgressTask task = progress.AddTask(title, maxValue: options.Epochs);
                    options.Progress = report =>
                    {
                        long stepInEpoch = report.IsEpochEnd ? report.StepsPerEpoch : (report.Step - 1) % report.StepsPerEpoch + 1;
                        task.Value = report.Epoch - 1 + Math.Min(1.0, stepInEpoch / (double)report.StepsPerEpoch);
                        task.Description = $"{title}: epoch {report.Epoch}/{options.Epochs}, loss {report.Loss:F3}";
                        if (report.IsEpochEnd)
                            console.WriteLine(
                                $"epoch {report.Epoch}/{options.Epochs}: loss {report.Loss:F3}, train accuracy {report.TrainAccuracy:P1}" +
                                (report.ValidationAccuracy is double v ? $", validation accuracy {v:P1}" : "") +
                                $", {report.ImagesPerSecond:F0} images/s");
                        previous?.Invoke(report);
                    };
                    T result = fit();
                    task.Value = task.MaxValue;
                    return result;
                });
        }
        finally
        {
            options.Progress = previous;
        }
    }
}
