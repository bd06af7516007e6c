using Crate.Trainers;
using Spectre.Console;

namespace Crate.Emergence;

/// <summary>
/// The live display: an overall bar with its ETA, and a line for the model at work (model, seed, epoch, loss,
/// accuracy, its own ETA). Results are printed above the bars as they arrive.
/// </summary>
public sealed class ConsoleProgress(ProgressContext display) : IExperimentProgress
{
    private readonly ProgressTask overall = display.AddTask("[bold]all models[/]", autoStart: true, maxValue: 1);
    private readonly ProgressTask current = display.AddTask("starting", autoStart: true, maxValue: 1);

    /// <inheritdoc/>
    public void Planned(int units) => overall.MaxValue = Math.Max(1, units);

    /// <inheritdoc/>
    public void Stage(string model, int? seed, string stage)
    {
        current.Description = Markup.Escape($"{model}{(seed is int s ? $" seed {s}" : "")}: {stage}");
        if (stage == "training") current.Value = 0;
    }

    /// <inheritdoc/>
    public void Training(string model, int seed, int epochs, CrateTrainingProgress p)
    {
        long stepInEpoch = p.IsEpochEnd ? p.StepsPerEpoch : (p.Step - 1) % p.StepsPerEpoch + 1;
        current.Value = Math.Min(0.999, (p.Epoch - 1 + stepInEpoch / (double)p.StepsPerEpoch) / epochs);
        current.Description = Markup.Escape($"{model} seed {seed}: epoch {p.Epoch}/{epochs}, loss {p.Loss:F3}, train acc {p.TrainAccuracy:P0}, " +
            $"{p.ImagesPerSecond:F0} img/s, ETA {p.EstimatedRemaining:mm\\:ss}");
    }

    /// <inheritdoc/>
    public void Advance() => overall.Increment(1);

    /// <inheritdoc/>
    public void Note(string line) => AnsiConsole.MarkupLine(Markup.Escape(line));
}

/// <summary>Plain lines, for a console that is not interactive (a log file, CI).</summary>
public sealed class LineProgress(TextWriter output) : IExperimentProgress
{
    private int planned = 1, done;

    /// <inheritdoc/>
    public void Planned(int units) => planned = Math.Max(1, units);

    /// <inheritdoc/>
    public void Stage(string model, int? seed, string stage) => output.WriteLine($"[{done}/{planned}] {model}{(seed is int s ? $" seed {s}" : "")}: {stage}");

    /// <inheritdoc/>
    public void Training(string model, int seed, int epochs, CrateTrainingProgress p)
    {
        if (p.IsEpochEnd)
            output.WriteLine($"[{done}/{planned}] {model} seed {seed}: epoch {p.Epoch}/{epochs} loss {p.Loss:F3} train acc {p.TrainAccuracy:P1} " +
                $"{p.ImagesPerSecond:F0} img/s, ETA {p.EstimatedRemaining:mm\\:ss}");
    }

    /// <inheritdoc/>
    public void Advance() => done++;

    /// <inheritdoc/>
    public void Note(string line) => output.WriteLine(line);
}
