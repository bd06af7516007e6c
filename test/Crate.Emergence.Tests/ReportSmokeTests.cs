using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Crate.Emergence;
using Crate.Testing;

namespace Crate.Emergence.Tests;

/// <summary>
/// The command run in-process as a user runs it, on settings far smaller than --quick (a minute or two: too long
/// for CI), checked on the report's structure, not on which model wins: every file is there, every table has a row
/// per model and a column per layer, and every number is finite and a percentage.
/// </summary>
[TestClass]
public sealed partial class ReportSmokeTests
{
    private static readonly string[] ModelsRows = ["CRATE", "ViT", "CRATE-MHSA", "CRATE-MLP"];

    private static readonly string[] ControlRows = Enum.GetValues<PositionControl>().Select(PositionControls.Name).ToArray();

    [TestMethod]
    public void TinyEmbeddedRunWritesTheWholeReport()
    {
        string directory = Directory.CreateTempSubdirectory("crate-emergence-smoke-").FullName;
        try
        {
            // 24-pixel images on a 6×6 grid, d 16, 2 layers of 2 heads, 2 seeds, 2 epochs of 32 images, measured every epoch.
            int exit = RunCommand("--quick", "--image-size", "24", "--radius", "5", "9", "--dim", "16", "--depth", "2", "--heads", "2",
                "--train-images", "32", "--batch-size", "16", "--epochs", "2", "--seeds", "0", "1", "--test-images", "16", "--scenes", "6",
                "--pictures", "2", "--epochs-eval", "--device", "Cpu", "--plain", "--output", directory);
            Assert.AreEqual(0, exit);

            foreach (string file in new[] { "report.md", "results.json", "layers.png", "epochs.png", "attention.png", "heads.png", "pca.png", "maskcut.png" })
                Assert.IsTrue(new FileInfo(Path.Combine(directory, file)) is { Exists: true, Length: > 0 }, $"{file} is written");
            foreach (string model in ModelsRows)
                foreach (int seed in new[] { 0, 1 })
                    Assert.IsTrue(File.Exists(Path.Combine(directory, "models", $"{model}-seed{seed}.safetensors")), $"{model} seed {seed} is saved");
            foreach (string png in Directory.GetFiles(directory, "*.png"))
                CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4).ToArray(), $"{png} is a PNG");

            string report = File.ReadAllText(Path.Combine(directory, "report.md"));
            foreach (string heading in new[] { "## Classification", "## Table 1", "## Table 2", "## Controls and both thresholds", "## By layer", "## By epoch", "## Pictures", "## The paper's orderings" })
                StringAssert.Contains(report, heading);
            StringAssert.Contains(report, "Holm-adjusted p");
            CheckTables(report, layers: 2, seeds: 2);

            ExperimentResult result = ReportWriter.ReadResults(Path.Combine(directory, "results.json"));
            Assert.HasCount(8, result.Models.Where(m => m.Role == ModelRole.Trained).ToArray(), "4 models × 2 seeds");
            Assert.HasCount(8, result.Models.Where(m => m.Role == ModelRole.Untrained).ToArray(), "their untrained floors");
            CollectionAssert.AreEqual(ControlRows, result.Models.Where(m => m.Role == ModelRole.Control).Select(m => m.Model).ToArray(), "one row per control");
            foreach (ModelResult run in result.Models)
            {
                Assert.HasCount(2, run.Layers);
                if (run.Role == ModelRole.Trained) Assert.HasCount(2, run.Epochs!);
                if (run.Role != ModelRole.Control) Assert.IsTrue(run.TestAccuracy is >= 0 and <= 1, $"{run.Model}: accuracy {run.TestAccuracy}");
                foreach (LayerResult layer in run.Layers.Concat(run.Epochs?.SelectMany(e => e.Layers) ?? []))
                    foreach (Metric metric in Metrics.All)
                    {
                        double value = Metrics.Value(layer, metric);
                        if (run.Role == ModelRole.Control && metric is >= Metric.BoxAP and <= Metric.MaskAP75)
                            Assert.IsTrue(double.IsNaN(value), $"{run.Model} has no MaskCut");
                        else
                            Assert.IsTrue(Metrics.IsDifference(metric) ? value is >= -1 and <= 1 : value is >= 0 and <= 1, $"{run.Model} layer {layer.Layer} {metric}: {value}");
                    }
            }
            // The oracle is the ceiling of the two per-image scores under the rule.
            LayerResult oracle = result.Models.Single(m => m.Model == PositionControls.Name(PositionControl.Oracle)).Layers[0];
            foreach (ModelResult run in result.Models)
            {
                Assert.IsLessThanOrEqualTo(oracle.BestHeadMeanIoU + 1e-12, run.Layers[^1].BestHeadMeanIoU, $"{run.Model}: eq. 13-14 under the oracle");
                Assert.IsLessThanOrEqualTo(oracle.MergedMaskIoU + 1e-12, run.Layers[^1].MergedMaskIoU, $"{run.Model}: merged IoU under the oracle");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void SeveralInitialisationsTrainEveryModelUnderEachAndCompareWithinOne()
    {
        string directory = Directory.CreateTempSubdirectory("crate-emergence-inits-").FullName;
        try
        {
            int exit = RunCommand("--quick", "--variants", "Crate", "ViT", "--initialization", "Orthogonal", "OrthogonalAllBlocks", "--seeds", "0",
                "--image-size", "24", "--radius", "5", "9", "--dim", "16", "--depth", "2", "--heads", "2", "--train-images", "32", "--batch-size", "16",
                "--epochs", "1", "--test-images", "16", "--scenes", "6", "--pictures", "2", "--layers", "2", "--device", "Cpu", "--plain", "--output", directory);
            Assert.AreEqual(0, exit);
            ExperimentResult result = ReportWriter.ReadResults(Path.Combine(directory, "results.json"));
            string[] trained = ["CRATE (Orthogonal)", "ViT (Orthogonal)", "CRATE (OrthogonalAllBlocks)", "ViT (OrthogonalAllBlocks)"];
            CollectionAssert.AreEqual(trained, result.Models.Where(m => m.Role == ModelRole.Trained).Select(m => m.Model).ToArray());
            CollectionAssert.AreEqual(trained.Select(t => t + " untrained").ToArray(), result.Models.Where(m => m.Role == ModelRole.Untrained).Select(m => m.Model).ToArray());
            Assert.IsTrue(File.Exists(Path.Combine(directory, "models", "ViT-OrthogonalAllBlocks-seed0.safetensors")), "model files named by their initialisation");
            string report = File.ReadAllText(Path.Combine(directory, "report.md"));
            StringAssert.Contains(report, "OrthogonalAllBlocks (rows named by it)");
            // CRATE is compared with ViT under the same initialisation, never across.
            StringAssert.Contains(report, "CRATE (Orthogonal) above ViT (Orthogonal) in");
            StringAssert.Contains(report, "CRATE (OrthogonalAllBlocks) above ViT (OrthogonalAllBlocks) in");
            Assert.DoesNotContain("CRATE (Orthogonal) above ViT (OrthogonalAllBlocks)", report);
            Assert.DoesNotContain("CRATE (OrthogonalAllBlocks) above ViT (Orthogonal)", report);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void TheLongPresetTrainsCrateAndVitUnderBothInitialisationsOnThreeTextureClasses()
    {
        string directory = Directory.CreateTempSubdirectory("crate-emergence-long-").FullName;
        try
        {
            // --long's models, initialisations and classes, made tiny by the options given after it; --texture-cell and
            // --noise reach the data.
            int exit = RunCommand("--long", "--seeds", "0", "--image-size", "24", "--radius", "5", "9", "--texture-cell", "3", "--noise", "0.2",
                "--dim", "16", "--depth", "2", "--heads", "2", "--train-images", "32", "--batch-size", "16", "--epochs", "1", "--test-images", "16",
                "--scenes", "6", "--pictures", "2", "--layers", "2", "--device", "Cpu", "--plain", "--output", directory);
            Assert.AreEqual(0, exit);
            ExperimentResult result = ReportWriter.ReadResults(Path.Combine(directory, "results.json"));
            CollectionAssert.AreEqual(new[] { "CRATE (OrthogonalAllBlocks)", "ViT (OrthogonalAllBlocks)", "CRATE (Reference)", "ViT (Reference)" },
                result.Models.Where(m => m.Role == ModelRole.Trained).Select(m => m.Model).ToArray());
            NumericAssert.AreClose(1 / 3.0, result.ChanceAccuracy ?? double.NaN, new Tolerance(1e-12), "chance with 3 classes");
            StringAssert.Contains(result.Dataset, "3 classes (disc-stripes, disc-checker, disc-dots)");
            Assert.AreEqual(2, RunCommand("--long", "--quick", "--output", directory), "--long and --quick together are refused");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Every markdown table: its rows are the models in order (each once per table), the layer tables have one column per
    /// layer, and every cell that holds a number holds a finite percentage ("12.3", or "12.3 ± 0.4" when seeds &gt; 1).
    /// </summary>
    internal static void CheckTables(string report, int layers, int seeds, IReadOnlyList<string>? models = null, int firstLayer = 1)
    {
        bool trained = models is null;
        models ??= ModelsRows;
        // Every row in report order: the models, their untrained floors (trained runs), the controls.
        string[] all = [.. models, .. trained ? models.Select(m => m + " untrained") : [], .. ControlRows];
        string[] lines = report.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var tables = new List<List<string[]>>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith('|') || i + 1 >= lines.Length || !lines[i + 1].StartsWith("|---", StringComparison.Ordinal)) continue;
            var rows = new List<string[]> { Cells(lines[i]) };
            for (i += 2; i < lines.Length && lines[i].StartsWith('|'); i++) rows.Add(Cells(lines[i]));
            tables.Add(rows);
        }
        Assert.IsGreaterThanOrEqualTo(3 + Metrics.All.Count, tables.Count, "Table 1, Table 2, the controls and one table per metric by layer (and classification when trained)");
        int layerTables = 0;
        foreach (List<string[]> table in tables)
        {
            string[] header = table[0];
            string[][] body = table.Skip(1).ToArray();
            Assert.IsTrue(body.All(r => r.Length == header.Length), $"rows as wide as the header '{string.Join('|', header)}'");
            if (header[1] == "epoch")
            {
                CollectionAssert.AreEqual(models.ToArray(), body.Select(r => r[0]).Distinct().ToArray(), "epoch table rows");
                continue;
            }
            // Tables of classification and MaskCut leave the controls out; every other table has every row.
            string[] expected = body.Any(r => ControlRows.Contains(r[0])) ? all : all.Except(ControlRows).ToArray();
            CollectionAssert.AreEqual(expected, body.Select(r => r[0]).ToArray(), $"the rows of '{string.Join('|', header)}'");
            if (header.Skip(1).All(h => h.StartsWith("layer ", StringComparison.Ordinal)))
            {
                layerTables++;
                CollectionAssert.AreEqual(Enumerable.Range(firstLayer, layers).Select(l => $"layer {l}").ToArray(), header.Skip(1).ToArray());
            }
        }
        Assert.AreEqual(Metrics.All.Count, layerTables, "one layer table per metric");

        // Every number cell (percentages, and the loss, which is well below 100): finite, in [0, 100], with a spread when
        // there are several seeds (controls have none). Cells of times ("12 / 20"), names and negative differences are not matched.
        foreach (List<string[]> table in tables)
            foreach (string[] row in table.Skip(1))
                foreach (string cell in row.Skip(table[0][1] == "epoch" ? 2 : 1))
                {
                    Match match = Percentage().Match(cell);
                    if (!match.Success) continue;
                    double value = double.Parse(match.Groups["mean"].Value, CultureInfo.InvariantCulture);
                    Assert.IsTrue(value is >= 0 and <= 100, $"'{cell}' in row {row[0]} is a percentage");
                    if (seeds > 1 && !ControlRows.Contains(row[0])) Assert.IsTrue(match.Groups["spread"].Success, $"'{cell}' in row {row[0]} has a spread over the seeds");
                }
        Assert.DoesNotContain("NaN", report);
        Assert.DoesNotContain("∞", report);
    }

    private static string[] Cells(string line) => line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();

    [GeneratedRegex(@"^(?<mean>\d+(\.\d+)?)( ± (?<spread>\d+(\.\d+)?))?$")]
    private static partial Regex Percentage();

    /// <summary>Runs the program's entry point in this process, as <c>dotnet run -- args</c> would.</summary>
    internal static int RunCommand(params string[] args)
    {
        MethodInfo main = typeof(EmergenceReport).Assembly.EntryPoint!;
        return (int)main.Invoke(null, [args])!;
    }
}
