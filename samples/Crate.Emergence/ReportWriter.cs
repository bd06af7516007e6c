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
/// the controls and both thresholds, and the verdicts by Welch tests under Holm's correction) and results.json (every number of every seed).
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
            foreach (ModelSummary m in models.Where(m => m.Role != ModelRole.Control))
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
        foreach (ModelSummary m in models.Where(m => m.Role != ModelRole.Control))
        {
            var l = m.LastLayer.Metrics;
            md.AppendLine($"| {m.Model} | {(m.Role == ModelRole.Untrained ? "none" : trained ? "Supervised" : "given")} | {l[Metric.BoxAP50].ToPercent()} | {l[Metric.BoxAP75].ToPercent()} | {l[Metric.BoxAP].ToPercent()} | " +
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

        string primaryLayer = models.Select(m => m.PrimaryLayer.Layer).Distinct().Count() == 1 ? $"layer {models[0].PrimaryLayer.Layer + 1}" : "each model's penultimate";
        md.AppendLine($"## Controls and both thresholds (primary layer: {primaryLayer})").AppendLine();
        md.AppendLine("The primary metric is eq. 13–14 at the penultimate layer under the measurement's rule. Beside each model: its untrained floor " +
            "(the same variant and seed at its initialisation); masks that ignore the image, scored by the same evaluators under the same rule " +
            "(random: each head's map uniform noise; central: a Gaussian bump at the grid's centre, σ a quarter of the grid; fitted: the mean object " +
            "share of each cell over the other half of the images; oracle: the best mask the rule allows for each image and class, the ceiling); " +
            "the other thresholding rule; and the permutation control, the score against the image's own truth minus against another scene's " +
            "(image i's masks against image i + 1's truth; near 0 for a mask that ignores the image).").AppendLine();
        md.AppendLine("| Model | eq. 13-14 | eq. 13-14, other rule | merged mask IoU | merged mask IoU, other rule | eq. 13-14 own − other scene's | merged IoU own − other scene's |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (ModelSummary m in models)
        {
            var l = m.PrimaryLayer.Metrics;
            md.AppendLine($"| {m.Model} | {l[Metric.BestHeadMeanIoU].ToPercent()} | {l[Metric.BestHeadMeanIoUOtherRule].ToPercent()} | {l[Metric.MergedMaskIoU].ToPercent()} | " +
                $"{l[Metric.MergedMaskIoUOtherRule].ToPercent()} | {l[Metric.BestHeadPermutationGap].ToPercent()} | {l[Metric.MergedMaskPermutationGap].ToPercent()} |");
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
        foreach (string line in Orderings(models, result.ChanceAccuracy)) md.AppendLine(line.StartsWith("  - ", StringComparison.Ordinal) ? line : $"- {line}");
        return md.ToString();
    }

    /// <summary>Significance level of every verdict, after Holm's correction over the report's whole family of tests.</summary>
    public const double Alpha = 0.05;

    /// <summary>One Welch test the report makes: <paramref name="Higher"/> against <paramref name="Lower"/> on a metric at a layer.</summary>
    /// <param name="Higher">The row claimed higher.</param>
    /// <param name="Lower">The row it is compared with.</param>
    /// <param name="Metric">The metric.</param>
    /// <param name="Layer">The layer (0-based).</param>
    /// <param name="X">The higher row's seeds.</param>
    /// <param name="Y">The other row's seeds.</param>
    /// <param name="Test">Welch's test of X against Y.</param>
    public sealed record Comparison(string Higher, string Lower, Metric Metric, int Layer, MeanAndSpread X, MeanAndSpread Y, WelchTest Test)
    {
        /// <summary>Holm-adjusted p over the family.</summary>
        public double AdjustedP { get; set; } = double.NaN;

        /// <summary>X above Y with Holm-adjusted p below <see cref="Alpha"/>.</summary>
        public bool Significant => X.Mean > Y.Mean && AdjustedP < Alpha;

        /// <summary>One line with the numbers.</summary>
        public string Describe() =>
            $"{Higher} {X.ToPercent()} against {Lower} {Y.ToPercent()} ({Metrics.Title(Metric)}, layer {Layer + 1}): Welch p = {P(Test.P)}, Holm-adjusted p = {P(AdjustedP)}";
    }

    /// <summary>
    /// Every comparison the report makes, each a Welch test, with Holm's correction over all of them: per trained model,
    /// against its untrained floor (eq. 13–14 and the merged mask at the primary layer, MaskCut AP50 at the last) and
    /// against the fitted position-only control (the two attention metrics); CRATE against ViT on the same three;
    /// every MSSA model against every MHSA one, and every trained model's first layer against its primary layer, on
    /// the primary metric.
    /// </summary>
    public static IReadOnlyList<Comparison> Comparisons(IReadOnlyList<ModelSummary> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        var tests = new List<Comparison>();
        ModelSummary? control = models.FirstOrDefault(m => m.Model == PositionControls.Name(PositionControl.FittedMask));
        ModelSummary[] trained = models.Where(m => m.Role is ModelRole.Trained or ModelRole.Given).ToArray();
        foreach (ModelSummary m in trained)
            foreach (Metric metric in Secondary)
            {
                if (Floor(models, m) is ModelSummary floor) tests.Add(Compare(m, floor, metric));
                if (control is not null && metric != Metric.BoxAP50) tests.Add(Compare(m, control, metric));
            }
        // Models are compared within one initialisation (the suffix of their row name when a run has several).
        foreach (ModelSummary crate in trained.Where(m => m.Model == "CRATE" + Initialisation(m)))
            if (trained.FirstOrDefault(m => m.Model == "ViT" + Initialisation(crate)) is ModelSummary vit)
                foreach (Metric metric in Secondary) tests.Add(Compare(crate, vit, metric));
        foreach (ModelSummary a in trained.Where(m => m.Attention == "MSSA"))
            foreach (ModelSummary b in trained.Where(m => m.Attention == "MHSA" && Initialisation(m) == Initialisation(a)))
                if (!tests.Any(t => t.Higher == a.Model && t.Lower == b.Model && t.Metric == Metric.BestHeadMeanIoU)) // CRATE–ViT is already in
                    tests.Add(Compare(a, b, Metric.BestHeadMeanIoU));
        foreach (ModelSummary m in trained.Where(m => m.Layers.Count > 2))
            tests.Add(new Comparison($"{m.Model} layer {m.PrimaryLayer.Layer + 1}", $"layer {m.Layers[0].Layer + 1}", Metric.BestHeadMeanIoU, m.PrimaryLayer.Layer,
                m.PrimaryLayer.Metrics[Metric.BestHeadMeanIoU], m.Layers[0].Metrics[Metric.BestHeadMeanIoU],
                WelchTest.Of(m.PrimaryLayer.Metrics[Metric.BestHeadMeanIoU], m.Layers[0].Metrics[Metric.BestHeadMeanIoU])));
        double[] adjusted = HolmCorrection.Adjust(tests.Select(t => t.Test.P).ToArray());
        for (int i = 0; i < tests.Count; i++) tests[i].AdjustedP = adjusted[i];
        return tests;
    }

    /// <summary>The metrics compared between rows: the primary metric (eq. 13–14) and the merged mask at the primary layer, MaskCut's AP50 at the last.</summary>
    private static readonly Metric[] Secondary = [Metric.BestHeadMeanIoU, Metric.MergedMaskIoU, Metric.BoxAP50];

    private static string Initialisation(ModelSummary model) => model.Model.IndexOf(" (", StringComparison.Ordinal) is var i and >= 0 ? model.Model[i..] : "";

    private static ModelSummary? Floor(IReadOnlyList<ModelSummary> models, ModelSummary model) =>
        models.FirstOrDefault(u => u.Role == ModelRole.Untrained && u.Model == ModelNames.Untrained(model.Model));

    private static Comparison Compare(ModelSummary a, ModelSummary b, Metric metric)
    {
        LayerSummary layerA = metric == Metric.BoxAP50 ? a.LastLayer : a.PrimaryLayer;
        LayerSummary? layerB = b.Layers.FirstOrDefault(l => l.Layer == layerA.Layer) ?? (metric == Metric.BoxAP50 ? b.LastLayer : b.PrimaryLayer);
        MeanAndSpread x = layerA.Metrics[metric], y = layerB.Metrics[metric];
        return new Comparison(a.Model, b.Model, metric, layerA.Layer, x, y, WelchTest.Of(x, y));
    }

    /// <summary>
    /// The verdicts: a model "shows emergence" on a metric when it beats both its untrained floor and the fitted
    /// position-only control (MaskCut: its floor) with Holm-adjusted Welch p &lt; 0.05; an ordering of the paper (CRATE
    /// above ViT, MSSA above MHSA, deeper above shallower) "holds" when its own test passes the same way <em>and</em>
    /// the higher model shows emergence on that metric. Then every test with its raw and adjusted p.
    /// </summary>
    public static IReadOnlyList<string> Orderings(IReadOnlyList<ModelSummary> models, double? chance)
    {
        ArgumentNullException.ThrowIfNull(models);
        var lines = new List<string>();
        if (chance is double c)
            foreach (ModelSummary m in models.Where(m => m.Role == ModelRole.Trained && m.TestAccuracy.Count > 0 && m.TestAccuracy.Mean < 2 * c))
                lines.Add($"**{m.Model} is barely trained**: test accuracy {m.TestAccuracy.ToPercent()} % against {Percent(c)} % chance; its segmentation numbers measure an untrained network.");
        IReadOnlyList<Comparison> tests = Comparisons(models);
        ModelSummary? control = models.FirstOrDefault(m => m.Model == PositionControls.Name(PositionControl.FittedMask));
        bool Emerges(string model, Metric metric)
        {
            Comparison? floor = tests.FirstOrDefault(t => t.Higher == model && t.Lower == ModelNames.Untrained(model) && t.Metric == metric);
            Comparison? position = tests.FirstOrDefault(t => t.Higher == model && t.Lower == control?.Model && t.Metric == metric);
            return floor is { Significant: true } && (metric == Metric.BoxAP50 || position is { Significant: true });
        }
        string Verdict(bool holds) => holds ? "**holds**" : "**does not hold**";
        if (models.FirstOrDefault(m => m.Role is ModelRole.Trained or ModelRole.Given) is ModelSummary first)
            lines.Add($"Primary metric: {Metrics.Title(Metric.BestHeadMeanIoU)} at layer {first.PrimaryLayer.Layer + 1} (the penultimate), under the measurement's rule. " +
                $"{tests.Count} Welch tests in the family; a verdict needs Holm-adjusted p < {Alpha} (and, for an ordering, the higher model's emergence).");
        foreach (ModelSummary m in models.Where(m => m.Role is ModelRole.Trained or ModelRole.Given))
            foreach (Metric metric in Secondary)
            {
                bool hasFloor = Floor(models, m) is not null;
                lines.Add($"{m.Model} shows emergence in {Metrics.Title(metric)} (above its untrained floor{(metric == Metric.BoxAP50 ? "" : " and the fitted position-only control")}): " +
                    (hasFloor ? Verdict(Emerges(m.Model, metric)) : "**not testable** (no untrained floor measured)"));
            }
        foreach (Comparison t in tests.Where(t => models.Any(m => m.Model == t.Lower && m.Attention == "MHSA" && m.Role == ModelRole.Trained)))
            lines.Add($"{t.Higher} above {t.Lower} in {Metrics.Title(t.Metric)}: {Verdict(t.Significant && Emerges(t.Higher, t.Metric))}");
        foreach (Comparison t in tests.Where(t => t.Higher.Contains(" layer ", StringComparison.Ordinal)))
            lines.Add($"{t.Higher} above {t.Lower} in {Metrics.Title(t.Metric)} (improves with depth): {Verdict(t.Significant && Emerges(t.Higher[..t.Higher.IndexOf(" layer ", StringComparison.Ordinal)], t.Metric))}");
        lines.Add("The tests:");
        lines.AddRange(tests.Select(t => "  - " + t.Describe()));
        return lines;
    }

    private static string P(double p) => double.IsNaN(p) ? "n/a" : p < 0.001 ? p.ToString("0.0e0", CultureInfo.InvariantCulture) : p.ToString("F3", CultureInfo.InvariantCulture);

    private static string Percent(double fraction) => double.IsFinite(fraction) ? (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) : "–";

    private static string Number(double value, int decimals) => double.IsFinite(value) ? value.ToString("F" + decimals, CultureInfo.InvariantCulture) : "n/a";

    private static string Minutes(double seconds) => $"{seconds / 60:F1} min ({seconds:F0} s)";

    private static string Loss(MeanAndSpread loss) => loss.Count == 0 ? "–" :
        loss.Count == 1 ? loss.Mean.ToString("F3", CultureInfo.InvariantCulture)
        : $"{loss.Mean.ToString("F3", CultureInfo.InvariantCulture)} ± {loss.StandardDeviation.ToString("F3", CultureInfo.InvariantCulture)}";
}
