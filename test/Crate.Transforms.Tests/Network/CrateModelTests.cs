using Crate.Testing;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Network;

[TestClass]
public sealed class CrateModelTests
{
    private static CrateArchitecture Small(CrateVariant variant = CrateVariant.Crate, TokenPooling pooling = TokenPooling.Cls) => new()
    {
        EmbeddingDim = 24, Depth = 2, Heads = 3, HeadDim = 8, PatchSize = 4, ImageHeight = 16, ImageWidth = 12, ClassCount = 5,
        Variant = variant, Pooling = pooling,
    };

    /// <summary>The reference code's table (spec), 224×224, patch 16, 1000 classes.</summary>
    [TestMethod]
    [DataRow("Tiny", 6_090_856L)]
    [DataRow("Small", 13_116_328L)]
    [DataRow("Base", 22_796_008L)]
    [DataRow("Large", 77_641_192L)]
    public void ParameterCountsMatchTheReferenceTable(string name, long expected)
    {
        using var model = new CrateModel(CrateArchitecture.FromName(name));
        Assert.AreEqual(expected, model.ParameterCount);
    }

    [TestMethod]
    public void LayerParameterCountIsThreeDSquaredPlusFiveD()
    {
        using var layer = new CrateLayer(Small() with { HeadDim = 8, Heads = 3 });
        long d = 24;
        Assert.AreEqual(3 * d * d + 5 * d, layer.parameters().Sum(p => p.numel()));
        Assert.HasCount(8, layer.parameters().ToArray());
    }

    /// <summary>
    /// The whole float32 network against <see cref="HandComputedCrate"/> in float64. Tokens are LayerNorm-scaled
    /// (O(1), with [CLS] and positions N(0, 1)); each value is reached through two layers of dot products of at most
    /// 48 terms (the patch projection), each off by ≤ 48·u·Σ|terms| ≈ 3e-6·Σ|terms|, passed on by LayerNorm's
    /// division by standard deviations of order one: 1e-4 of the O(1) scale bounds the accumulation with room to
    /// spare, while a wrong formula errs by O(0.1).
    /// </summary>
    private static readonly Tolerance Network = new(Absolute: 1e-4, Relative: 1e-4);

    /// <summary>Attention probabilities and eq. (10)'s maps, in [0, 1]: softmax turns an absolute score error δ
    /// (scores are dot products of p = 8 terms of O(1) tokens, δ ≲ 1e-5 after two layers) into a relative error ≤ 2δ.</summary>
    private static readonly Tolerance Probability = new(Absolute: 2e-5);

    [TestMethod]
    [DataRow(CrateVariant.Crate)]
    [DataRow(CrateVariant.ViT)]
    [DataRow(CrateVariant.CrateMhsa)]
    [DataRow(CrateVariant.CrateMlp)]
    [DataRow(CrateVariant.CrateSoftThreshold)]
    public void EveryVariantClassifiesRectangularBatchesAndIntrospectsAsComputedByHand(CrateVariant variant)
    {
        using var model = new CrateModel(Small(variant));
        model.eval();
        using var _ = no_grad();
        using Tensor images = randn(3, 3, 16, 12);
        using Tensor logits = model.forward(images);
        using Tensor encoded = model.Encode(images);
        using CrateIntrospection readout = model.Introspect(images, IntrospectionRequest.Everything);
        CollectionAssert.AreEqual(new long[] { 3, 5 }, logits.shape);
        Assert.AreEqual(4, readout.GridHeight);
        Assert.AreEqual(3, readout.GridWidth);
        Assert.HasCount(2, readout.Layers);
        var oracle = new HandComputedCrate(model);
        bool hasIsta = variant is CrateVariant.Crate or CrateVariant.CrateMhsa or CrateVariant.CrateSoftThreshold;
        for (int i = 0; i < 3; i++)
        {
            (HandLayer[] layers, double[] expectedLogits) = oracle.Forward(images[i]);
            NumericAssert.AreAllClose(expectedLogits, NumericAssert.Values(logits[i]), Network, $"image {i}: forward logits");
            NumericAssert.AreAllClose(expectedLogits, NumericAssert.Values(readout.Logits[i]), Network, $"image {i}: introspected logits");
            NumericAssert.AreClose(layers[^1].Output, encoded[i], Network, $"image {i}: encoded tokens");
            for (int l = 0; l < 2; l++)
            {
                LayerIntrospection layer = readout.ForLayer(l);
                string where = $"image {i}, layer {l}";
                CollectionAssert.AreEqual(new long[] { 3, 3, 13, 13 }, layer.Attention!.shape);
                for (int h = 0; h < 3; h++)
                {
                    NumericAssert.AreClose(layers[l].Attention[h], layer.Attention[i, h], Probability, $"{where}, head {h} attention");
                    NumericAssert.AreAllClose(layers[l].ClsAttention(h), NumericAssert.Values(layer.ClsAttention![i, h]), Probability,
                        $"{where}, head {h} [CLS] map (eq. 10)");
                }
                NumericAssert.AreClose(layers[l].HeadFeatures, layer.HeadFeatures![i], Network, $"{where}: head features");
                NumericAssert.AreClose(layers[l].Output, layer.Output![i], Network, $"{where}: output");
                Assert.AreEqual(hasIsta, layer.IstaZeroFraction is not null, "sparsity is reported for ISTA layers only");
                if (hasIsta)
                {
                    // The share of exact zeros, counted here in the tokens the layer returned.
                    double[] output = NumericAssert.Values(layer.Output[i]);
                    double zeros = output.Count(v => v == 0) / (double)output.Length;
                    NumericAssert.AreClose(zeros, layer.IstaZeroFraction![i].item<float>(), new Tolerance(Tolerance.Float32Roundoff),
                        $"{where}: ISTA zero fraction");
                }
            }
        }
    }

    [TestMethod]
    public void LargeCpuBatchesSplitIntoMicroBatchesGiveEachImagesOwnResult()
    {
        // 2049 tokens of width 1024 are 8.4 MB per image, over the 8 MiB activation budget: one image per slice.
        var architecture = new CrateArchitecture
        {
            EmbeddingDim = 1024, Depth = 1, Heads = 4, HeadDim = 256, PatchSize = 2, ImageHeight = 64, ImageWidth = 128, ClassCount = 3,
        };
        using var model = new CrateModel(architecture);
        model.eval();
        using var _ = no_grad();
        using Tensor images = randn(3, 3, 64, 128);
        using Tensor sliced = model.forward(images);
        // Each slice is exactly a one-image forward pass, the same arithmetic on the same shapes: bit-for-bit equal,
        // in order.
        for (int i = 0; i < 3; i++)
        {
            using Tensor alone = model.forward(images.narrow(0, i, 1));
            NumericAssert.AreEqual(alone, sliced.narrow(0, i, 1), $"image {i}");
        }
    }

    [TestMethod]
    public void MeanPoolingAveragesAllTokensClsIncluded()
    {
        using var model = new CrateModel(Small(pooling: TokenPooling.Mean));
        model.eval();
        using var _ = no_grad();
        using Tensor images = randn(2, 3, 16, 12);
        using Tensor tokens = model.Encode(images);
        using Tensor logits = model.forward(images);
        var oracle = new HandComputedCrate(model);
        for (int i = 0; i < 2; i++)
        {
            // Eq. (9) by hand from the final tokens: their mean over all 13 tokens, [CLS] included, then LayerNorm and
            // the linear head. Sums of 13 and 24 float32 terms of O(1): far inside 1e-5.
            double[,] finalTokens = HandComputed.Matrix(tokens[i]);
            double[] mean = oracle.Classify(finalTokens);
            NumericAssert.AreAllClose(mean, NumericAssert.Values(logits[i]), new Tolerance(Absolute: 1e-5, Relative: 1e-5), $"image {i}");
            // The premise that makes this a test of the pooling: [CLS] pooling of the same tokens gives other logits.
            double[] cls = oracle.ClassifyWith(TokenPooling.Cls, finalTokens);
            NumericAssert.IsAbove(0.01, mean.Zip(cls, (a, b) => Math.Abs(a - b)).Max(), $"image {i}: mean and [CLS] pooling differ");
        }
    }

    [TestMethod]
    public void IntrospectionKeepsOnlyWhatWasAsked()
    {
        using var model = new CrateModel(Small());
        using var _ = no_grad();
        using CrateIntrospection readout = model.Introspect(randn(1, 3, 16, 12), new IntrospectionRequest { Layers = [1] });
        Assert.HasCount(1, readout.Layers);
        LayerIntrospection layer = readout.ForLayer(1);
        Assert.IsNotNull(layer.ClsAttention);
        Assert.IsNull(layer.Attention);
        Assert.IsNull(layer.HeadFeatures);
        Assert.IsNull(layer.Output);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => readout.ForLayer(0));
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => model.Introspect(randn(1, 3, 16, 12), new IntrospectionRequest { Layers = [2] }));
        StringAssert.Contains(error.Message, "Layer index 2");
    }

    [TestMethod]
    public void PositionalEmbeddingIsUnchangedOnTheNativeGridAndKeepsClsWhenResized()
    {
        using var model = new CrateModel(Small());
        Tensor native = model.PositionalEmbeddingFor(4, 3);
        NumericAssert.AreEqual(model.state_dict()["pos_embedding"], native, "the native grid's positions");
        using Tensor larger = model.PositionalEmbeddingFor(8, 6);
        CollectionAssert.AreEqual(new long[] { 1, 49, 24 }, larger.shape);
        NumericAssert.AreEqual(native.narrow(1, 0, 1), larger.narrow(1, 0, 1), "the [CLS] position is kept");
        using Tensor logits = model.forward(randn(2, 3, 32, 24));
        CollectionAssert.AreEqual(new long[] { 2, 5 }, logits.shape);
    }

    [TestMethod]
    public void BadImagesAreRefusedWithTheirShape()
    {
        using var model = new CrateModel(Small());
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(3, 16, 12))).Message, "[3, 16, 12]");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(1, 1, 16, 12))).Message, "1 channels");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(1, 3, 2, 12))).Message, "smaller than one 4×4 patch");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(1, 3, 18, 12))).Message, "not divisible by the patch size 4");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(0, 3, 16, 12))).Message, "empty");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.forward(randn(1, 3, 16, 12, dtype: ScalarType.Float64))).Message, "float32");
    }

    [TestMethod]
    public void InconsistentArchitecturesAreRefusedByField()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new CrateModel(Small() with { ImageHeight = 18 })).Message, "ImageHeight");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new CrateModel(Small() with { Heads = 0 })).Message, "Heads");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => CrateArchitecture.FromName("Huge")).Message, "Huge");
    }

    [TestMethod]
    public void ArchitectureRoundTripsThroughJson()
    {
        CrateArchitecture architecture = Small(CrateVariant.CrateSoftThreshold, TokenPooling.Mean) with { IstaStepSize = 0.2 };
        string json = architecture.ToJson();
        StringAssert.Contains(json, "\"CrateSoftThreshold\"");
        Assert.AreEqual(architecture, CrateArchitecture.FromJson(json));
    }
}
