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

    [TestMethod]
    [DataRow(CrateVariant.Crate)]
    [DataRow(CrateVariant.ViT)]
    [DataRow(CrateVariant.CrateMhsa)]
    [DataRow(CrateVariant.CrateMlp)]
    [DataRow(CrateVariant.CrateSoftThreshold)]
    public void EveryVariantClassifiesRectangularBatchesAndIntrospectsConsistently(CrateVariant variant)
    {
        using var model = new CrateModel(Small(variant));
        model.eval();
        using var _ = no_grad();
        using Tensor images = randn(3, 3, 16, 12);
        using Tensor logits = model.forward(images);
        CollectionAssert.AreEqual(new long[] { 3, 5 }, logits.shape);
        using CrateIntrospection readout = model.Introspect(images, IntrospectionRequest.Everything);
        Assert.IsLessThan(1e-5, (readout.Logits - logits).abs().max().item<float>(), "introspection changes nothing");
        Assert.AreEqual(4, readout.GridHeight);
        Assert.AreEqual(3, readout.GridWidth);
        Assert.HasCount(2, readout.Layers);
        foreach (LayerIntrospection layer in readout.Layers)
        {
            CollectionAssert.AreEqual(new long[] { 3, 3, 13, 13 }, layer.Attention!.shape);
            CollectionAssert.AreEqual(new long[] { 3, 3, 12 }, layer.ClsAttention!.shape);
            CollectionAssert.AreEqual(new long[] { 3, 13, 24 }, layer.HeadFeatures!.shape);
            CollectionAssert.AreEqual(new long[] { 3, 13, 24 }, layer.Output!.shape);
            // Eq. (10): row 0 over the patch columns, renormalised.
            using Tensor row = layer.Attention.select(2, 0).narrow(-1, 1, 12);
            using Tensor expected = row / row.sum(-1, keepdim: true);
            Assert.IsLessThan(1e-6, (layer.ClsAttention - expected).abs().max().item<float>());
            bool hasIsta = variant is CrateVariant.Crate or CrateVariant.CrateMhsa or CrateVariant.CrateSoftThreshold;
            Assert.AreEqual(hasIsta, layer.IstaZeroFraction is not null);
            if (hasIsta)
            {
                using Tensor zeros = layer.Output.eq(0).to_type(ScalarType.Float32).mean(new long[] { 1, 2 });
                Assert.IsLessThan(1e-6, (zeros - layer.IstaZeroFraction!).abs().max().item<float>());
            }
        }
        using Tensor encoded = model.Encode(images);
        Assert.IsLessThan(1e-5, (encoded - readout.Layers[^1].Output!).abs().max().item<float>());
    }

    [TestMethod]
    public void LargeCpuBatchesSplitIntoMicroBatchesGiveTheWholeBatchResult()
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
        using CrateIntrospection whole = model.Introspect(images, new IntrospectionRequest { ClsAttention = false, Sparsity = false });
        Assert.IsLessThan(1e-4, (sliced - whole.Logits).abs().max().item<float>());
        using Tensor second = model.forward(images.narrow(0, 1, 1));
        Assert.IsLessThan(1e-4, (sliced.narrow(0, 1, 1) - second).abs().max().item<float>(), "slices keep their order");
    }

    [TestMethod]
    public void MeanPoolingAveragesAllTokensClsIncluded()
    {
        using var model = new CrateModel(Small(pooling: TokenPooling.Mean));
        model.eval();
        using var _ = no_grad();
        using Tensor images = randn(2, 3, 16, 12);
        using Tensor tokens = model.Encode(images);
        using Tensor manual = model.Classify(tokens);
        using Tensor viaCls = new CrateModel(Small()).Classify(tokens);
        Assert.IsLessThan(1e-5, (model.forward(images) - manual).abs().max().item<float>());
        Assert.IsGreaterThan(1e-3, (manual - viaCls).abs().max().item<float>(), "mean and cls pooling must differ");
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
        Assert.IsTrue(native.allclose(model.state_dict()["pos_embedding"], rtol: 0, atol: 0));
        using Tensor larger = model.PositionalEmbeddingFor(8, 6);
        CollectionAssert.AreEqual(new long[] { 1, 49, 24 }, larger.shape);
        Assert.IsTrue(larger.narrow(1, 0, 1).allclose(native.narrow(1, 0, 1), rtol: 0, atol: 0), "the [CLS] position is kept");
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
