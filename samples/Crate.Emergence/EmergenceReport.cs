using System.Diagnostics;
using Crate.Transforms.Network;
using Microsoft.ML;

namespace Crate.Emergence;

/// <summary>A run from start to report: the experiment, its pictures, report.md and results.json in one folder.</summary>
public static class EmergenceReport
{
    /// <summary>Trains and measures on the embedded data, then writes the report into <paramref name="directory"/> (trained models in its models/ folder).</summary>
    public static ExperimentResult Embedded(ExperimentSettings settings, string directory, IExperimentProgress progress, string commandLine)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Directory.CreateDirectory(directory);
        var clock = Stopwatch.StartNew();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var context = new MLContext(seed: 0);
        using ExperimentRun run = new Experiment(context, progress).RunEmbedded(settings, Path.Combine(directory, "models"));
        return Write(context, run, settings.Measurement, directory, progress, commandLine, clock, cpu);
    }

    /// <summary>Measures given models on <paramref name="data"/> and writes the report into <paramref name="directory"/>.</summary>
    public static ExperimentResult Given(MLContext context, IReadOnlyList<(string Name, CrateModel Network)> models, EvaluationData data,
        MeasurementSettings measurement, int pictureImages, string directory, IExperimentProgress progress, string commandLine,
        Func<int, int, LayerReadouts>? readouts = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        Directory.CreateDirectory(directory);
        var clock = Stopwatch.StartNew();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        using ExperimentRun run = new Experiment(context, progress).RunGiven(models, data, measurement, pictureImages, readouts);
        return Write(context, run, measurement, directory, progress, commandLine, clock, cpu);
    }

    private static ExperimentResult Write(MLContext context, ExperimentRun run, MeasurementSettings measurement, string directory,
        IExperimentProgress progress, string commandLine, Stopwatch clock, TimeSpan cpuStart)
    {
        progress.Stage("report", null, "drawing pictures");
        IReadOnlyList<ModelSummary> summaries = ModelSummary.Summarise(run.Result.Models);
        var pictures = new ReportPictures(context, directory, measurement);
        try
        {
            string layers = pictures.LayerCurves(summaries);
            string? epochs = summaries.Any(s => s.Epochs.Count > 0) ? pictures.EpochCurves(summaries) : null;
            string attention = pictures.Attention(run.Showcase, run.Pictures);
            // Figure 7 shows CRATE's heads; ViT's beside them for the contrast (every model's when models were given).
            var headModels = run.Showcase.Where(m => m.Name is "CRATE" or "ViT" || m.Name.StartsWith("CRATE (", StringComparison.Ordinal)
                || m.Name.StartsWith("ViT (", StringComparison.Ordinal)).ToList();
            if (headModels.Count == 0) headModels = [.. run.Showcase];
            string[] heads = [pictures.Heads(headModels, run.Pictures)];
            string pca = pictures.Pca(run.Showcase, run.PcaImages);
            string maskCut = pictures.MaskCut(run.Showcase, run.Pictures);
            // The run's time includes the pictures.
            ExperimentResult result = run.Result with
            {
                WallSeconds = clock.Elapsed.TotalSeconds,
                CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
                LoadAverageEnd = MachineInfo.LoadAverage(),
            };
            ReportWriter.Write(directory, result, new ReportFigures(layers, epochs, attention, heads, pca, maskCut), commandLine);
            return result;
        }
        finally
        {
            pictures.DeleteTiles();
        }
    }
}
