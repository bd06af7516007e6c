using System.Text.Json;
using System.Text.RegularExpressions;
using Crate.Samples.FineTune;
using Crate.Samples.SegmentImages;
using Crate.Testing;
using Crate.Trainers.Data;
using Crate.Transforms.Checkpoints;

namespace Crate.Samples.Tests;

/// <summary>
/// Smoke runs of samples/Crate.FineTune on tiny data: the confusion matrix counts exactly the validation images the
/// test wrote (or the split's documented share of them), a resumed run continues after its checkpoint's epoch, and
/// the fine-tuned pipeline file is a network file the segmentation sample takes.
/// </summary>
[TestClass]
public sealed partial class FineTuneTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-finetune-sample-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private string In(params string[] parts) => Path.Combine([directory, .. parts]);

    private sealed record Metrics(int ValidationImages, double MicroAccuracy, double MacroAccuracy, string[] Classes, long[][] ConfusionMatrix);

    private Metrics ReadMetrics(string output) => JsonSerializer.Deserialize<Metrics>(File.ReadAllText(In(output, "metrics.json")))!;

    [GeneratedRegex(@"^epoch (\d+)/(\d+):", RegexOptions.Multiline)]
    private static partial Regex EpochLine();

    private static string[] Epochs(SampleRun run) => EpochLine().Matches(run.Output).Select(m => $"{m.Groups[1].Value}/{m.Groups[2].Value}").ToArray();

    [TestMethod]
    public void AnAuthorsCheckpointFineTunesOnFoldersAndResumesFromItsCheckpoint()
    {
        // 4 classes: 16 training images (4 each) and 8 validation images (2 each); image i is of class i mod 4.
        ShapesDataset.WriteFolder(new ShapesDatasetOptions { Count = 16, Seed = 5 }, In("train"));
        ShapesDataset.WriteFolder(new ShapesDatasetOptions { Count = 8, Seed = 6 }, In("validation"));
        string[] common = ["--data", In("train", "images"), "--validation", In("validation", "images"), "--model", SampleRun.Checkpoint, "--heads", "4",
            "--batch-size", "8", "--output", In("out"), "--device", "cpu"];
        SampleRun first = SampleRun.Of(FineTuneApp.Run, [.. common, "--epochs", "1"]).Succeeded();
        CollectionAssert.AreEqual(new[] { "1/1" }, Epochs(first));
        StringAssert.Contains(first.Output, "Confusion table");

        Metrics metrics = ReadMetrics("out");
        string[] classes = ShapesDataset.ClassNames(new ShapesDatasetOptions()).Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(classes, metrics.Classes);
        Assert.AreEqual(8, metrics.ValidationImages);
        Assert.HasCount(4, metrics.ConfusionMatrix);
        foreach (long[] truth in metrics.ConfusionMatrix)
            Assert.AreEqual(2L, truth.Sum(), "each class's 2 validation images, each counted once");
        long correct = Enumerable.Range(0, 4).Sum(c => metrics.ConfusionMatrix[c][c]);
        NumericAssert.AreClose(correct / 8.0, metrics.MicroAccuracy, new Tolerance(1e-12), "accuracy is the diagonal's share");

        string pipeline = In("out", "fine-tuned.zip");
        Assert.AreEqual(CrateNetworkFileFormat.PipelineFile, CrateNetworkFile.DetectFormat(pipeline));
        Assert.AreEqual((48, 3, 4, 4), Shape(CrateNetworkFile.ReadArchitecture(pipeline)), "the checkpoint's backbone with a head of the 4 classes");
        Assert.IsTrue(File.Exists(In("out", "checkpoints", "epoch-0001.safetensors")));

        // Resumed from epoch 1's checkpoint, a run of 3 epochs trains epochs 2 and 3 only.
        SampleRun resumed = SampleRun.Of(FineTuneApp.Run, [.. common, "--epochs", "3", "--resume", In("out", "checkpoints", "epoch-0001.safetensors")]).Succeeded();
        CollectionAssert.AreEqual(new[] { "2/3", "3/3" }, Epochs(resumed));
        StringAssert.Contains(resumed.Output, "at epoch 2");
        Assert.IsTrue(File.Exists(In("out", "checkpoints", "epoch-0003.safetensors")));
        Assert.AreEqual(8, ReadMetrics("out").ConfusionMatrix.Sum(r => r.Sum()), "the resumed run's matrix counts the validation set too");

        // The fine-tuned pipeline is a model the segmentation sample takes.
        SampleRun segmented = SampleRun.Of(SegmentImagesApp.Run, "--images", In("validation", "images"), "--model", pipeline, "--output", In("segmented"),
            "--device", "cpu").Succeeded();
        StringAssert.Contains(segmented.Output, "Model: PipelineFile");
    }

    private static (int, int, int, int) Shape(Crate.Transforms.Network.CrateArchitecture a) => (a.EmbeddingDim, a.Depth, a.Heads, a.ClassCount);

    [TestMethod]
    public void WithoutArgumentsItPretrainsOnTheEmbeddedDataAndHoldsOutAShareOfEachClass()
    {
        string[] args = ["--images-per-class", "5", "--pretrain-images", "32", "--pretrain-epochs", "1", "--epochs", "1", "--output", In("out"), "--device", "cpu"];
        SampleRun.Of(FineTuneApp.Run, args).Succeeded();
        string[] classes = Directory.GetDirectories(In("out", "data", "images")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Metrics metrics = ReadMetrics("out");
        CollectionAssert.AreEqual(classes, metrics.Classes);
        // Five images per class, ⌈0.2 · 5⌉ = 1 of each held out.
        Assert.AreEqual(classes.Length, metrics.ValidationImages);
        foreach (long[] truth in metrics.ConfusionMatrix)
            Assert.AreEqual(1L, truth.Sum());
        Assert.AreEqual(CrateNetworkFileFormat.ModelFile, CrateNetworkFile.DetectFormat(In("out", "pretrained.safetensors")));

        SampleRun again = SampleRun.Of(FineTuneApp.Run, args).Succeeded();
        StringAssert.Contains(again.Output, "reusing");
        Assert.DoesNotContain("Pretraining", again.Output);
    }

    [TestMethod]
    public void HelpAndBadInputsAreAnsweredInWords()
    {
        SampleRun help = SampleRun.Of(FineTuneApp.Run, "--help").Succeeded();
        foreach (string option in new[] { "--data", "--validation", "--model", "--heads", "--freeze-backbone", "--patience", "--checkpoints", "--resume" })
            StringAssert.Contains(help.Output, option);
        SampleRun badFraction = SampleRun.Of(FineTuneApp.Run, "--validation-fraction", "1.5", "--output", In("out"));
        Assert.AreEqual(1, badFraction.ExitCode);
        StringAssert.Contains(badFraction.Output, "--validation-fraction");
    }
}
