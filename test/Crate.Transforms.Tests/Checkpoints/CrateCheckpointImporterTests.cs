using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// Importing crate_square.pt (d 48, 3 layers, 4 heads of 12, patch 8, 32×32, 7 classes) into architectures that do
/// and do not fit it. What must be missing, unexpected or mis-shaped follows from the spec's key table.
/// </summary>
[TestClass]
public sealed class CrateCheckpointImporterTests
{
    private static readonly string Square = ReferenceFixtures.PathOf("crate_square.pt");

    private static readonly string[] LayerSuffixes =
    {
        "attention_norm.weight", "attention_norm.bias", "attention.subspace_bases.weight", "attention.output_projection.weight",
        "attention.output_projection.bias", "feedforward_norm.weight", "feedforward_norm.bias", "feedforward.dictionary",
    };

    private static CrateArchitecture SquareArchitecture => new()
    {
        EmbeddingDim = 48, Depth = 3, Heads = 4, HeadDim = 12, PatchSize = 8, ImageHeight = 32, ImageWidth = 32, ClassCount = 7,
    };

    private static string[] LayerKeys(int layer) => LayerSuffixes.Select(s => $"layers.{layer}.{s}").ToArray();

    [TestMethod]
    public void MissingLayerIsListed()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { Depth = 4 } };
        CheckpointMismatchException e = Assert.ThrowsExactly<CheckpointMismatchException>(() => CrateCheckpointImporter.Import(Square, options));
        CollectionAssert.AreEquivalent(LayerKeys(3), e.MissingKeys.ToArray());
        Assert.IsEmpty(e.UnexpectedKeys);
        Assert.IsEmpty(e.ShapeMismatches);
        Assert.AreEqual(Square, e.FilePath);
        foreach (string key in LayerKeys(3))
            Assert.Contains(key, e.Message);
        Assert.Contains("layers.3.attention_norm.weight (transformer.layers.3.0.norm.weight)", e.Message);
        Assert.Contains(Square, e.Message);
    }

    [TestMethod]
    public void SurplusLayerIsListed()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { Depth = 2 } };
        CheckpointMismatchException e = Assert.ThrowsExactly<CheckpointMismatchException>(() => CrateCheckpointImporter.Import(Square, options));
        CollectionAssert.AreEquivalent(LayerKeys(2), e.UnexpectedKeys.ToArray());
        Assert.IsEmpty(e.MissingKeys);
        Assert.Contains("layers.2.feedforward.dictionary (transformer.layers.2.1.fn.weight)", e.Message);
    }

    [TestMethod]
    public void WrongEmbeddingDimNamesKeysAndShapes()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { EmbeddingDim = 64 } };
        CheckpointMismatchException e = Assert.ThrowsExactly<CheckpointMismatchException>(() => CrateCheckpointImporter.Import(Square, options));
        ShapeMismatch cls = e.ShapeMismatches.Single(m => m.Key == "cls_token");
        CollectionAssert.AreEqual(new long[] { 1, 1, 64 }, cls.Expected.ToArray());
        CollectionAssert.AreEqual(new long[] { 1, 1, 48 }, cls.Actual.ToArray());
        // Every tensor whose shape involves d: all but the patch LayerNorm's two and the head's bias.
        Assert.HasCount(2 + 2 + 2 + 8 * 3 + 3, e.ShapeMismatches);
        Assert.Contains("cls_token: model [1, 1, 64], file [1, 1, 48]", e.Message);
        Assert.Contains("and 23 more", e.Message);
    }

    [TestMethod]
    public void WrongHeadDimNamesKeysAndShapes()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { HeadDim = 16 } };
        CheckpointMismatchException e = Assert.ThrowsExactly<CheckpointMismatchException>(() => CrateCheckpointImporter.Import(Square, options));
        Assert.HasCount(2 * 3, e.ShapeMismatches);
        Assert.Contains("layers.0.attention.subspace_bases.weight (transformer.layers.0.0.fn.qkv.weight): model [64, 48], file [48, 48]", e.Message);
        Assert.Contains("layers.0.attention.output_projection.weight (transformer.layers.0.0.fn.to_out.0.weight): model [48, 64], file [48, 48]", e.Message);
    }

    [TestMethod]
    public void LenientImportLoadsTheLayersThatFitAndReportsTheRest()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { Depth = 2 }, Strict = false };
        using CrateModel model = CrateCheckpointImporter.Import(Square, options, out CheckpointLoadReport report);
        CollectionAssert.AreEquivalent(LayerKeys(2), report.UnexpectedKeys.ToArray());
        Assert.IsFalse(report.IsComplete);
        Assert.HasCount(8 + 8 * 2 + 4, report.Loaded);
        // The two loaded layers compute what PyTorch's first two layers did.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using CrateIntrospection readout = model.Introspect(ReferenceFixtures.Array("crate_square", "input"),
            new IntrospectionRequest { LayerOutputs = true });
        Tensor expected = ReferenceFixtures.Array("crate_square", "layer_outputs");
        for (int l = 0; l < 2; l++)
            NumericAssert.AreClose(expected[l], readout.ForLayer(l).Output!, ReferenceParityTests.Parity, $"layer {l} output");
    }

    [TestMethod]
    public void LenientImportReportsMissingParameters()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { Depth = 4 }, Strict = false };
        using CrateModel model = CrateCheckpointImporter.Import(Square, options, out CheckpointLoadReport report);
        CollectionAssert.AreEquivalent(LayerKeys(3), report.MissingKeys.ToArray());
        Assert.IsEmpty(report.UnexpectedKeys);
        Assert.HasCount(36, report.Loaded);
    }

    [TestMethod]
    public void LenientImportSkipsMisShapedParameters()
    {
        var options = new CheckpointImportOptions { Architecture = SquareArchitecture with { HeadDim = 16 }, Strict = false };
        using CrateModel model = CrateCheckpointImporter.Import(Square, options, out CheckpointLoadReport report);
        CollectionAssert.AreEquivalent(
            Enumerable.Range(0, 3).SelectMany(l => new[] { $"layers.{l}.attention.subspace_bases.weight", $"layers.{l}.attention.output_projection.weight" }).ToArray(),
            report.ShapeMismatches.Select(m => m.Key).ToArray());
        Assert.HasCount(36 - 6, report.Loaded);
        Assert.IsEmpty(report.MissingKeys);
        Assert.IsEmpty(report.UnexpectedKeys);
    }

    [TestMethod]
    public void DroppedHeadIsFreshAndTheBackboneUnchanged()
    {
        using var scope = NewDisposeScope();
        using CrateModel dropped = CrateCheckpointImporter.Import(Square,
            new CheckpointImportOptions { Heads = 4, DropHead = true, ClassCount = 11 }, out CheckpointLoadReport report);
        Assert.AreEqual(SquareArchitecture with { ClassCount = 11 }, dropped.Architecture);
        CollectionAssert.AreEquivalent(new[] { "head_norm.weight", "head_norm.bias", "head.weight", "head.bias" }, report.Skipped.ToArray());
        Assert.IsTrue(report.IsComplete);
        using var noGrad = no_grad();
        Tensor input = ReferenceFixtures.Array("crate_square", "input");
        CollectionAssert.AreEqual(new long[] { 2, 11 }, dropped.forward(input).shape);
        // The backbone computes what PyTorch's did with the same weights: its last layer's tokens.
        NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "layer_outputs")[^1], dropped.Encode(input), ReferenceParityTests.Parity,
            "backbone tokens");
    }

    [TestMethod]
    public void ConfigurationOfOtherSizesIsExplained()
    {
        ArgumentException e = Assert.ThrowsExactly<ArgumentException>(
            () => CrateCheckpointImporter.Import(Square, new CheckpointImportOptions { ConfigName = "Tiny" }));
        Assert.Contains("d 48, 3 layers and K·p 48", e.Message);
        Assert.Contains("d 384, 12 layers and K·p 384", e.Message);
    }

    [TestMethod]
    public void HeadCountMustDivideTheSubspaceWidth()
    {
        ArgumentException e = Assert.ThrowsExactly<ArgumentException>(
            () => CrateCheckpointImporter.Import(Square, new CheckpointImportOptions { Heads = 5 }));
        Assert.Contains("K·p = 48", e.Message);
        Assert.Contains("5 heads", e.Message);
    }

    [TestMethod]
    public void HeadCountIsRequired()
    {
        ArgumentException e = Assert.ThrowsExactly<ArgumentException>(() => CrateCheckpointImporter.Import(Square, new CheckpointImportOptions()));
        Assert.Contains("Heads", e.Message);
    }

    [TestMethod]
    public void VariantWithoutReferenceLayoutIsRefused()
    {
        ArgumentException e = Assert.ThrowsExactly<ArgumentException>(
            () => CrateCheckpointImporter.Import(Square, new CheckpointImportOptions { Heads = 4, Variant = CrateVariant.ViT }));
        Assert.Contains("ViT", e.Message);
    }

    [TestMethod]
    public void RectangularGridNeedsAnImageSide()
    {
        string rect = ReferenceFixtures.PathOf("crate_rect_p4.pt");
        ArgumentException e = Assert.ThrowsExactly<ArgumentException>(
            () => CrateCheckpointImporter.Import(rect, new CheckpointImportOptions { Heads = 2 }));
        Assert.Contains("60 patch positions", e.Message);
        // One side is enough: 24 pixels of patch 4 is 6 rows, so 10 columns of the 60 positions.
        using CrateModel model = CrateCheckpointImporter.Import(rect, new CheckpointImportOptions { Heads = 2, ImageHeight = 24 });
        Assert.AreEqual(40, model.Architecture.ImageWidth);
    }
}
