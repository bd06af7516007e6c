using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// Reference checkpoints written by PyTorch 1.13, imported and run: every read-out must match what PyTorch computed
/// from the same weights and inputs (Fixtures/README.md) to 1e-4.
/// </summary>
[TestClass]
public sealed class ReferenceParityTests
{
    private const double Tolerance = 1e-4;

    /// <summary>
    /// The import options a user of each fixture would pass: K always (checkpoints do not record it), and for the
    /// rectangular mean-pooling model its image size and pooling, which the reference does not save either.
    /// </summary>
    internal static CheckpointImportOptions OptionsFor(FixtureModel fixture) =>
        fixture.ImageHeight == fixture.ImageWidth
            ? new CheckpointImportOptions { Heads = fixture.Heads, Pooling = fixture.Pooling }
            : new CheckpointImportOptions
            {
                Heads = fixture.Heads, Pooling = fixture.Pooling, ImageHeight = fixture.ImageHeight, ImageWidth = fixture.ImageWidth,
            };

    internal static CrateModel ImportFixture(string name, out CheckpointLoadReport report)
    {
        FixtureModel fixture = ReferenceFixtures.Model(name);
        CrateModel model = CrateCheckpointImporter.Import(ReferenceFixtures.PathOf(fixture.File), OptionsFor(fixture), out report);
        model.eval();
        return model;
    }

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    [DataRow("crate_narrow_inner")]
    public void InferredArchitectureIsTheFixtures(string name)
    {
        FixtureModel fixture = ReferenceFixtures.Model(name);
        using CrateModel model = ImportFixture(name, out CheckpointLoadReport report);
        CrateArchitecture expected = new()
        {
            EmbeddingDim = fixture.EmbeddingDim, Depth = fixture.Depth, Heads = fixture.Heads, HeadDim = fixture.HeadDim,
            PatchSize = fixture.Patch, ImageHeight = fixture.ImageHeight, ImageWidth = fixture.ImageWidth,
            ClassCount = fixture.Classes, Channels = fixture.Channels, Pooling = fixture.Pooling,
        };
        Assert.AreEqual(expected, model.Architecture);
        Assert.IsTrue(report.IsComplete);
        Assert.HasCount(8 + 8 * fixture.Depth + 4, report.Loaded);
        Assert.IsEmpty(report.Skipped);
    }

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    [DataRow("crate_narrow_inner")]
    public void LogitsMatchPyTorch(string name)
    {
        using var scope = NewDisposeScope();
        using CrateModel model = ImportFixture(name, out _);
        using var noGrad = no_grad();
        TensorAssert.AreClose(ReferenceFixtures.Array(name, "logits"), model.forward(ReferenceFixtures.Array(name, "input")), Tolerance, "logits");
    }

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    [DataRow("crate_narrow_inner")]
    public void IntrospectionMatchesPyTorch(string name)
    {
        FixtureModel fixture = ReferenceFixtures.Model(name);
        using var scope = NewDisposeScope();
        using CrateModel model = ImportFixture(name, out _);
        using var noGrad = no_grad();
        using CrateIntrospection readout = model.Introspect(ReferenceFixtures.Array(name, "input"), IntrospectionRequest.Everything);
        Tensor clsAttention = ReferenceFixtures.Array(name, "cls_attention");
        Tensor layerOutputs = ReferenceFixtures.Array(name, "layer_outputs");
        Tensor zeroFractions = ReferenceFixtures.Array(name, "ista_zero_fraction");
        TensorAssert.AreClose(ReferenceFixtures.Array(name, "logits"), readout.Logits, Tolerance, "logits");
        Assert.HasCount(fixture.Depth, readout.Layers);
        for (int l = 0; l < fixture.Depth; l++)
        {
            LayerIntrospection layer = readout.ForLayer(l);
            TensorAssert.AreClose(clsAttention[l], layer.ClsAttention!, Tolerance, $"layer {l} cls attention");
            TensorAssert.AreClose(layerOutputs[l], layer.Output!, Tolerance, $"layer {l} output");
            // PyTorch counts zeros over the whole batch; ours are per image of equal size, so their mean is that count.
            long elements = layer.Output!.numel();
            double expected = zeroFractions[l].item<float>(), actual = layer.IstaZeroFraction!.mean().item<float>();
            Assert.AreEqual(expected, actual, 1.0 / elements + 1e-6, $"layer {l} ISTA zero fraction");
        }
        TensorAssert.AreClose(ReferenceFixtures.Array(name, "head_features_last"), readout.ForLayer(fixture.Depth - 1).HeadFeatures!,
            Tolerance, "last layer head features");
    }

    [TestMethod]
    public void InterpolatedPositionalEmbeddingMatchesPyTorch()
    {
        using var scope = NewDisposeScope();
        using CrateModel model = ImportFixture("crate_square", out _);
        using var noGrad = no_grad();
        TensorAssert.AreClose(ReferenceFixtures.Array("crate_square", "interp_pos_embedding"), model.PositionalEmbeddingFor(5, 6),
            Tolerance, "5×6 positional embedding");
        TensorAssert.AreClose(ReferenceFixtures.Array("crate_square", "interp_logits"),
            model.forward(ReferenceFixtures.Array("crate_square", "interp_input")), Tolerance, "logits on a 5×6 grid");
    }
}
