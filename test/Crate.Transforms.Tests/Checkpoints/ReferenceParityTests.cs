using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// Reference checkpoints written by PyTorch 1.13, imported and run: every read-out must match what PyTorch computed
/// from the same weights and inputs (Fixtures/README.md) within <see cref="Parity"/>.
/// </summary>
[TestClass]
public sealed class ReferenceParityTests
{
    /// <summary>
    /// PyTorch 1.13 and libtorch 2.10 both compute in float32, with different kernels and summation orders, so they
    /// differ by rounding alone. A dot product of n terms is off by up to n·u·Σ|terms| (n ≤ 192, the patch projection:
    /// ≈ 1.1e-5 of the terms' size); LayerNorm and softmax pass relative errors on with factors of order one (the
    /// fixtures' attention is peaked: qkv weights ×4), and three layers add theirs. Tokens are O(1) after LayerNorm,
    /// so 1e-4 bounds the accumulation; logits and head features reach ~10, hence the relative part. A wrong formula,
    /// key or layout errs by O(0.1) or more.
    /// </summary>
    internal static readonly Tolerance Parity = new(Absolute: 1e-4, Relative: 1e-4);

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
        NumericAssert.AreClose(ReferenceFixtures.Array(name, "logits"), model.forward(ReferenceFixtures.Array(name, "input")), Parity, "logits");
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
        NumericAssert.AreClose(ReferenceFixtures.Array(name, "logits"), readout.Logits, Parity, "logits");
        Assert.HasCount(fixture.Depth, readout.Layers);
        for (int l = 0; l < fixture.Depth; l++)
        {
            LayerIntrospection layer = readout.ForLayer(l);
            NumericAssert.AreClose(clsAttention[l], layer.ClsAttention!, Parity, $"layer {l} cls attention");
            NumericAssert.AreClose(layerOutputs[l], layer.Output!, Parity, $"layer {l} output");
            // PyTorch counts zeros over the whole batch; ours are per image of equal size, so their mean is that count.
            long elements = layer.Output!.numel();
            double expected = zeroFractions[l].item<float>(), actual = layer.IstaZeroFraction!.mean().item<float>();
            // An entry within rounding of the threshold may be an exact zero on one side only: one element's worth,
            // plus the float32 rounding of the fraction itself.
            NumericAssert.AreClose(expected, actual, new Tolerance(1.0 / elements + 1e-6), $"layer {l} ISTA zero fraction");
        }
        NumericAssert.AreClose(ReferenceFixtures.Array(name, "head_features_last"), readout.ForLayer(fixture.Depth - 1).HeadFeatures!,
            Parity, "last layer head features");
    }

    [TestMethod]
    public void InterpolatedPositionalEmbeddingMatchesPyTorch()
    {
        using var scope = NewDisposeScope();
        using CrateModel model = ImportFixture("crate_square", out _);
        using var noGrad = no_grad();
        NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "interp_pos_embedding"), model.PositionalEmbeddingFor(5, 6),
            Parity, "5×6 positional embedding");
        NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "interp_logits"),
            model.forward(ReferenceFixtures.Array("crate_square", "interp_input")), Parity, "logits on a 5×6 grid");
    }

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    public void ParityAssertionsFailWhenTheNetworkOutputsANonFiniteValue(double injected)
    {
        using var scope = NewDisposeScope();
        using CrateModel model = ImportFixture("crate_square", out _);
        using var noGrad = no_grad();
        // One weight of the last layer's dictionary made non-finite: the layer's output and the logits carry it.
        model.state_dict()["layers.2.feedforward.dictionary"][5, 7] = tensor((float)injected);
        Tensor input = ReferenceFixtures.Array("crate_square", "input");
        using CrateIntrospection readout = model.Introspect(input, IntrospectionRequest.Everything);
        Assert.IsTrue(readout.ForLayer(2).Output!.isfinite().logical_not().any().item<bool>(), "premise: the output holds the injected value");
        Assert.ThrowsExactly<AssertFailedException>(() =>
            NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "logits"), model.forward(input), Parity, "logits"));
        Assert.ThrowsExactly<AssertFailedException>(() =>
            NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "layer_outputs")[2], readout.ForLayer(2).Output!, Parity, "layer 2 output"));
        // The layers before it are untouched and still pass.
        NumericAssert.AreClose(ReferenceFixtures.Array("crate_square", "layer_outputs")[1], readout.ForLayer(1).Output!, Parity, "layer 1 output");
    }
}
