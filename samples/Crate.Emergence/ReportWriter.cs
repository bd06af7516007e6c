using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Crate.Emergence;

/// <summary>The pictures a report shows, by file name in the report folder.</summary>
/// <param name="Layers">Metrics by layer.</param>
/// <param name="Epochs">Metrics by epoch, when measured.</param>
/// <param name="Attention">[CLS] attention of every model on the same images.</param>
/// <param name="Heads">Every head of each model, across images.</param>
/// <param name="Pca">PCA maps.</param>
/// <param name="MaskCut">MaskCut's objects.</param>
public sealed record ReportFigures(string Layers, string? Epochs, string Attention, IReadOnlyList<string> Heads, string Pca, string MaskCut);

/// <summary>
/// Writes report.md (tables shaped like the paper's Table 1 and Table 2, layer-wise and epoch-wise tables, the pictures,
/// and the paper's orderings checked against the seeds' spread) and results.json (every number of every seed).
/// </summary>
public static class ReportWriter
{
    /// <summary>The markdown file's name.</summary>
    public const string ReportFile = "report.md";

    /// <summary>The raw numbers' file name.</summary>
    public const string ResultsFile = "results.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes both files into <paramref name="directory"/>.</summary>
    public static void Write(string directory, ExperimentResult result, ReportFigures figures, string commandLine)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(figures);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, ResultsFile), JsonSerializer.Serialize(result, Json));
        File.WriteAllText(Path.Combine(directory, ReportFile), Markdown(result, ModelSummary.Summarise(result.Models), figures, commandLine));
    }

    /// <summary>Reads results.json back.</summary>
    public static ExperimentResult ReadResults(string path) =>
        JsonSerializer.Deserialize<ExperimentResult>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"'{path}' is empty.");

    /// <summary>The report's markdown.</summary>
    public static string Markdown(ExperimentResult result, IReadOnlyList<ModelSummary> models, ReportFigures figures, string commandLine)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(figures);
        bool trained = result.Recipe is not null;
        int seeds = models.Max(m => m.Runs);
        var md = new StringBuilder();
        md.AppendLine($"# Emergence of segmentation: {string.Join(", ", models.Select(m => m.Model))} on {result.Title}").AppendLine();
        md.AppendLine($"- **Command**: `{commandLine}`");
        md.AppendLine($"- **When**: {result.StartedUtc:yyyy-MM-dd HH:mm} UTC; wall time {Minutes(result.WallSeconds)}, CPU time {Minutes(result.CpuSeconds)} " +
            $"(all threads); 1-minute load average {Number(result.LoadAverageStart, 1)} at the start, {Number(result.LoadAverageEnd, 1)} at the end");
        md.AppendLine($"- **Machine**: {result.Machine}");
        md.AppendLine($"- **Evaluation data**: {result.Dataset}");
        if (trained) md.AppendLine($"- **Training recipe** (every model, every seed): {result.Recipe}");
        md.AppendLine($"- **Measurement**: {result.Measurement}");
        md.AppendLine(trained
            ? $"- **Seeds**: {seeds} per model; numbers are mean ± sample standard deviation over the seeds, in percent"
            : "- **Models**: given; numbers in percent");
        md.AppendLine();

        md.AppendLine("## Classification").AppendLine();
        if (trained)
        {
            md.AppendLine($"Chance is {Percent(result.ChanceAccuracy ?? double.NaN)} %. Segmentation numbers of a model near chance mean little.").AppendLine();
            md.AppendLine("| Model | Attention | Nonlinearity | test accuracy | training accuracy (last epoch) | training loss (last epoch) | training wall / CPU s | measuring wall / CPU s |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (ModelSummary m in models)
            {
                ModelResult[] runs = result.Models.Where(r => r.Model == m.Model).ToArray();
                md.AppendLine($"| {m.Model} | {m.Attention} | {m.Nonlinearity} | {m.TestAccuracy.ToPercent()} | {m.TrainingAccuracy.ToPercent()} | " +
                    $"{Loss(m.TrainingLoss)} | {runs.Average(r => r.TrainingSeconds):F0} / {runs.Average(r => r.TrainingCpuSeconds):F0} | " +
                    $"{runs.Average(r => r.EvaluationSeconds):F0} / {runs.Average(r => r.EvaluationCpuSeconds):F0} |");
            }
            md.AppendLine().AppendLine("Times are per seed, averaged.");
        }
        else
        {
            md.AppendLine("Given models: no classification is measured on segmentation data.");
        }
        md.AppendLine();

        string lastLayer = models.Select(m => m.LastLayer.Layer).Distinct().Count() == 1 ? $"layer {models[0].LastLayer.Layer + 1}" : "each model's";
        md.AppendLine($"## Table 1: MaskCut on {result.Title} (last measured layer: {lastLayer})").AppendLine();
        md.AppendLine("Class-agnostic COCO AP of MaskCut's boxes (detection) and masks (segmentation), as the paper's Table 1.").AppendLine();
        md.AppendLine("| Model | Train | Detection AP50 | AP75 | AP | Segmentation AP50 | AP75 | AP |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (ModelSummary m in models)
        {
            var l = m.LastLayer.Metrics;
            md.AppendLine($"| {m.Model} | {(trained ? "Supervised" : "given")} | {l[Metric.BoxAP50].ToPercent()} | {l[Metric.BoxAP75].ToPercent()} | {l[Metric.BoxAP].ToPercent()} | " +
                $"{l[Metric.MaskAP50].ToPercent()} | {l[Metric.MaskAP75].ToPercent()} | {l[Metric.MaskAP].ToPercent()} |");
        }
        md.AppendLine();

        md.AppendLine($"## Table 2: the variants (last measured layer: {lastLayer})").AppendLine();
        md.AppendLine("As the paper's Table 2: MaskCut detection AP, and coarse segmentation from [CLS] attention by eq. 13–14 (best head per class); " +
            "beside it the merged top-P mask's IoU with all objects and its VOC devkit mIoU (background/foreground).").AppendLine();
        md.AppendLine("| Model | Attention | Nonlinearity | Detection AP50 | AP75 | AP | Seg. mIoU (eq. 13-14) | merged mask IoU | merged mask VOC mIoU |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (ModelSummary m in models)
        {
            var l = m.LastLayer.Metrics;
            md.AppendLine($"| {m.Model} | {m.Attention} | {m.Nonlinearity} | {l[Metric.BoxAP50].ToPercent()} | {l[Metric.BoxAP75].ToPercent()} | {l[Metric.BoxAP].ToPercent()} | " +
                $"{l[Metric.BestHeadMeanIoU].ToPercent()} | {l[Metric.MergedMaskIoU].ToPercent()} | {l[Metric.VocMeanIoU].ToPercent()} |");
        }
        md.AppendLine();

        md.AppendLine("## By layer (Figure 6)").AppendLine();
        md.AppendLine($"![Metrics by layer]({figures.Layers})").AppendLine();
        // Models of different depths share the table: a layer a model does not have (or was not measured) is "–".
        int[] layers = models.SelectMany(m => m.Layers.Select(l => l.Layer)).Distinct().Order().ToArray();
        foreach (Metric metric in Metrics.All)
        {
            md.AppendLine($"**{Metrics.Title(metric)}**").AppendLine();
            md.AppendLine("| Model | " + string.Join(" | ", layers.Select(l => $"layer {l + 1}")) + " |");
            md.AppendLine("|---|" + string.Concat(layers.Select(_ => "---|")));
            foreach (ModelSummary m in models)
                md.AppendLine($"| {m.Model} | " + string.Join(" | ",
                    layers.Select(l => m.Layers.FirstOrDefault(x => x.Layer == l)?.Metrics[metric].ToPercent() ?? "–")) + " |");
            md.AppendLine();
        }

        if (figures.Epochs is string epochFigure && models.Any(m => m.Epochs.Count > 0))
        {
            md.AppendLine($"## By epoch (Figure 10), last measured layer: {lastLayer}").AppendLine();
            md.AppendLine($"![Metrics by epoch]({epochFigure})").AppendLine();
            md.AppendLine("| Model | epoch | test accuracy | " + string.Join(" | ", Metrics.Plotted.Select(Metrics.Title)) + " |");
            md.AppendLine("|---|---|---|" + string.Concat(Metrics.Plotted.Select(_ => "---|")));
            foreach (ModelSummary m in models)
                foreach (EpochSummary e in m.Epochs)
                    md.AppendLine($"| {m.Model} | {e.Epoch} | {e.Accuracy.ToPercent()} | " + string.Join(" | ", Metrics.Plotted.Select(x => e.Metrics[x].ToPercent())) + " |");
            md.AppendLine();
        }

        md.AppendLine("## Pictures").AppendLine();
        md.AppendLine("[CLS] attention of every model on the same images (Figures 1, 4 and 14), with the merged mask:").AppendLine();
        md.AppendLine($"![Attention]({figures.Attention})").AppendLine();
        md.AppendLine("Every head of the penultimate layer across images (Figure 7):").AppendLine();
        foreach (string heads in figures.Heads) md.AppendLine($"![Heads]({heads})").AppendLine();
        md.AppendLine("PCA of the penultimate layer (Figure 3):").AppendLine();
        md.AppendLine($"![PCA]({figures.Pca})").AppendLine();
        md.AppendLine("MaskCut's objects (Figure 5):").AppendLine();
        md.AppendLine($"![MaskCut]({figures.MaskCut})").AppendLine();

        md.AppendLine("## The paper's orderings, checked").AppendLine();
        foreach (string line in Orderings(models, result.ChanceAccuracy)) md.AppendLine($"- {line}");
        return md.ToString();
    }

    /// <summary>
    /// The paper's claims at this scale, each as "holds / does not hold" with the numbers: CRATE above ViT in attention
    /// mIoU and MaskCut AP beyond the seeds' spread; MSSA variants above MHSA ones; segmentation improving with depth;
    /// and which models are too close to chance for their numbers to mean much.
    /// </summary>
    public static IReadOnlyList<string> Orderings(IReadOnlyList<ModelSummary> models, double? chance)
    {
        ArgumentNullException.ThrowIfNull(models);
        var lines = new List<string>();
        if (chance is double c)
            foreach (ModelSummary m in models.Where(m => m.TestAccuracy.Count > 0 && m.TestAccuracy.Mean < 2 * c))
                lines.Add($"**{m.Model} is barely trained**: test accuracy {m.TestAccuracy.ToPercent()} % against {Percent(c)} % chance; its segmentation numbers measure an untrained network.");
        ModelSummary? crate = models.FirstOrDefault(m => m.Model == "CRATE"), vit = models.FirstOrDefault(m => m.Model == "ViT");
        Metric[] compared = [Metric.BestHeadMeanIoU, Metric.MergedMaskIoU, Metric.VocMeanIoU, Metric.BoxAP50, Metric.BoxAP, Metric.MaskAP50, Metric.MaskAP];
        if (crate is not null && vit is not null)
            foreach (Metric metric in compared)
                lines.Add(Compare(metric, crate, vit));
        ModelSummary[] mssa = models.Where(m => m.Attention == "MSSA").ToArray(), mhsa = models.Where(m => m.Attention == "MHSA").ToArray();
        if (mssa.Length > 0 && mhsa.Length > 0)
            foreach (Metric metric in new[] { Metric.BestHeadMeanIoU, Metric.BoxAP50 })
            {
                bool holds = mssa.All(a => mhsa.All(b => a.LastLayer.Metrics[metric].IsAboveBeyondSpread(b.LastLayer.Metrics[metric])));
                lines.Add($"MSSA variants ({string.Join(", ", mssa.Select(m => $"{m.Model} {m.LastLayer.Metrics[metric].ToPercent()}"))}) above MHSA ones " +
                    $"({string.Join(", ", mhsa.Select(m => $"{m.Model} {m.LastLayer.Metrics[metric].ToPercent()}"))}) in {Metrics.Title(metric)}: " +
                    (holds ? "**holds** beyond the spread" : "**does not hold** beyond the spread"));
            }
        foreach (ModelSummary m in models.Where(m => m.Layers.Count > 1))
            foreach (Metric metric in new[] { Metric.BestHeadMeanIoU, Metric.BoxAP50 })
            {
                MeanAndSpread first = m.Layers[0].Metrics[metric], last = m.LastLayer.Metrics[metric];
                string verdict = last.IsAboveBeyondSpread(first) ? "**improves** with depth" : first.IsAboveBeyondSpread(last) ? "**falls** with depth" : "no change beyond the spread";
                lines.Add($"{m.Model}, {Metrics.Title(metric)}: layer {m.Layers[0].Layer + 1} {first.ToPercent()} → layer {m.LastLayer.Layer + 1} {last.ToPercent()}: {verdict}");
            }
        return lines;
    }

    private static string Compare(Metric metric, ModelSummary a, ModelSummary b)
    {
        MeanAndSpread x = a.LastLayer.Metrics[metric], y = b.LastLayer.Metrics[metric];
        string spread = x.Count > 1 && y.Count > 1 ? "beyond the seeds' spread" : "(one seed: means compared)";
        string verdict = x.IsAboveBeyondSpread(y) ? $"**above** {spread}" : y.IsAboveBeyondSpread(x) ? $"**below** {spread}" : "**not separated** by the seeds' spread";
        return $"{a.Model} against {b.Model}, {Metrics.Title(metric)} (last layer): {x.ToPercent()} against {y.ToPercent()}: {verdict}";
    }

    private static string Percent(double fraction) => double.IsFinite(fraction) ? (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) : "–";

    private static string Number(double value, int decimals) => double.IsFinite(value) ? value.ToString("F" + decimals, CultureInfo.InvariantCulture) : "n/a";

    private static string Minutes(double seconds) => $"{seconds / 60:F1} min ({seconds:F0} s)";

    private static string Loss(MeanAndSpread loss) => loss.Count == 0 ? "–" :
        loss.Count == 1 ? loss.Mean.ToString("F3", CultureInfo.InvariantCulture)
        : $"{loss.Mean.ToString("F3", CultureInfo.InvariantCulture)} ± {loss.StandardDeviation.ToString("F3", CultureInfo.InvariantCulture)}";
}
