using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Crate.Transforms.Tests.Checkpoints;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Onnx;

/// <summary>
/// Exported models run in ONNX Runtime against two oracles: the PyTorch reference code's outputs on its own
/// checkpoints (Fixtures/README.md), and the TorchSharp network for every variant, pooling and input shape.
/// </summary>
[TestClass]
public sealed class OnnxParityTests
{
    // The bar. Both sides compute in float32 through a few layers whose sums have at most a few hundred
    // terms, so rounding differences are of order 1e-6; 1e-4 leaves room for other kernels' summation orders.
    private const double Tolerance = 1e-4;

    internal static CrateArchitecture SmallArchitecture(CrateVariant variant, TokenPooling pooling, int height, int width) => new()
    {
        EmbeddingDim = 24, Depth = 3, Heads = 3, HeadDim = 8, PatchSize = 4, ImageHeight = height, ImageWidth = width,
        ClassCount = 5, Variant = variant, Pooling = pooling,
    };

    internal static byte[] ExportToBytes(CrateModel model, CrateOnnxExportOptions? options = null)
    {
        using var stream = new MemoryStream();
        CrateOnnxExporter.Export(model, stream, options);
        return stream.ToArray();
    }

    internal static float[] Floats(Tensor t) => t.contiguous().data<float>().ToArray();

    private static void AreClose(Tensor expected, OnnxOutput actual, long[] shape, string what)
    {
        CollectionAssert.AreEqual(shape, actual.Dimensions.Select(d => (long)d).ToArray(), $"{what}: shape");
        OnnxAssert.AreClose(Floats(expected), actual.Values, Tolerance, what);
    }

    [TestMethod]
    [DataRow(CrateVariant.Crate, TokenPooling.Cls, 16, 16)]
    [DataRow(CrateVariant.Crate, TokenPooling.Mean, 12, 20)]
    [DataRow(CrateVariant.ViT, TokenPooling.Cls, 12, 20)]
    [DataRow(CrateVariant.ViT, TokenPooling.Mean, 16, 16)]
    [DataRow(CrateVariant.CrateMhsa, TokenPooling.Cls, 16, 16)]
    [DataRow(CrateVariant.CrateMhsa, TokenPooling.Mean, 20, 12)]
    [DataRow(CrateVariant.CrateMlp, TokenPooling.Cls, 20, 12)]
    [DataRow(CrateVariant.CrateMlp, TokenPooling.Mean, 16, 16)]
    [DataRow(CrateVariant.CrateSoftThreshold, TokenPooling.Cls, 16, 16)]
    [DataRow(CrateVariant.CrateSoftThreshold, TokenPooling.Mean, 12, 20)]
    public void EveryOutputOfEveryVariantMatchesTorchSharp(CrateVariant variant, TokenPooling pooling, int height, int width)
    {
        using var model = new CrateModel(SmallArchitecture(variant, pooling, height, width));
        model.eval();
        using var onnx = new OnnxRun(ExportToBytes(model, new CrateOnnxExportOptions { ClsAttentionLayers = [2, 0], HeadFeaturesLayer = 1 }));
        CollectionAssert.AreEqual(new[] { "logits", "probabilities", "cls_attention", "head_features" }, onnx.Names.Outputs.ToArray());
        int h = height / 4, w = width / 4;
        foreach (int batch in new[] { 1, 3 }) // one session, two batch sizes: the batch dimension is dynamic
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor images = randn(batch, 3, height, width);
            Dictionary<string, OnnxOutput> outputs = onnx.Run(Floats(images), batch, 3, height, width);
            using CrateIntrospection readout = model.Introspect(images, new IntrospectionRequest { HeadFeatures = true, Sparsity = false });
            string at = $"{variant}/{pooling} {height}×{width}, batch {batch}";
            AreClose(model.forward(images), outputs["logits"], [batch, 5], $"{at}: logits");
            AreClose(readout.Logits.softmax(-1), outputs["probabilities"], [batch, 5], $"{at}: probabilities");
            Tensor maps = stack([readout.ForLayer(2).ClsAttention!, readout.ForLayer(0).ClsAttention!], 1);
            AreClose(maps, outputs["cls_attention"], [batch, 2, 3, h, w], $"{at}: [CLS] attention of layers 2 and 0");
            AreClose(readout.ForLayer(1).HeadFeatures!, outputs["head_features"], [batch, h * w + 1, 24], $"{at}: layer 1 head features");
        }
    }

    [TestMethod]
    public void MssaWithOneFullWidthHeadExportsWithoutOutputMap()
    {
        using var model = new CrateModel(SmallArchitecture(CrateVariant.Crate, TokenPooling.Cls, 16, 16) with { Heads = 1, HeadDim = 24 });
        model.eval();
        Assert.IsFalse(model.state_dict().Keys.Any(k => k.Contains("output_projection")), "the reference drops the output map when K = 1 and p = d");
        using var onnx = new OnnxRun(ExportToBytes(model, new CrateOnnxExportOptions { ClsAttentionLayers = [1] }));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor images = randn(2, 3, 16, 16);
        Dictionary<string, OnnxOutput> outputs = onnx.Run(Floats(images), 2, 3, 16, 16);
        using CrateIntrospection readout = model.Introspect(images, new IntrospectionRequest { Layers = [1] });
        AreClose(readout.Logits, outputs["logits"], [2, 5], "logits");
        AreClose(readout.ForLayer(1).ClsAttention!, outputs["cls_attention"], [2, 1, 1, 4, 4], "[CLS] attention");
    }

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    [DataRow("crate_narrow_inner")]
    public void ExportedReferenceCheckpointsMatchPyTorch(string name)
    {
        FixtureModel fixture = ReferenceFixtures.Model(name);
        using CrateModel model = ReferenceParityTests.ImportFixture(name, out _);
        int depth = fixture.Depth;
        var options = new CrateOnnxExportOptions { ClsAttentionLayers = Enumerable.Range(0, depth).ToArray(), HeadFeaturesLayer = depth - 1 };
        using var onnx = new OnnxRun(ExportToBytes(model, options));
        using var scope = NewDisposeScope();
        Tensor input = ReferenceFixtures.Array(name, "input");
        int batch = (int)input.shape[0], h = fixture.ImageHeight / fixture.Patch, w = fixture.ImageWidth / fixture.Patch;
        Dictionary<string, OnnxOutput> outputs = onnx.Run(Floats(input), batch, fixture.Channels, fixture.ImageHeight, fixture.ImageWidth);
        AreClose(ReferenceFixtures.Array(name, "logits"), outputs["logits"], [batch, fixture.Classes], $"{name}: logits");
        // PyTorch's maps are [layers, B, K, N]; ours are [B, layers, K, h, w].
        AreClose(ReferenceFixtures.Array(name, "cls_attention").permute(1, 0, 2, 3), outputs["cls_attention"],
            [batch, depth, fixture.Heads, h, w], $"{name}: [CLS] attention of every layer");
        AreClose(ReferenceFixtures.Array(name, "head_features_last"), outputs["head_features"],
            [batch, h * w + 1, fixture.Heads * fixture.HeadDim], $"{name}: last layer head features");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void PositionsResizedForAnotherGridMatchPyTorch(bool dynamicSize)
    {
        // crate_square was made for 32×32 (a 4×4 grid); PyTorch ran it at 40×48 with its positions resized bicubically to 5×6.
        using CrateModel model = ReferenceParityTests.ImportFixture("crate_square", out _);
        CrateOnnxExportOptions options = dynamicSize ? new() { DynamicImageSize = true } : new() { ImageHeight = 40, ImageWidth = 48 };
        using var onnx = new OnnxRun(ExportToBytes(model, options));
        using var scope = NewDisposeScope();
        Tensor input = ReferenceFixtures.Array("crate_square", "interp_input");
        Dictionary<string, OnnxOutput> outputs = onnx.Run(Floats(input), (int)input.shape[0], 3, 40, 48);
        AreClose(ReferenceFixtures.Array("crate_square", "interp_logits"), outputs["logits"], [input.shape[0], 7],
            dynamicSize ? "logits, positions resized by ONNX's cubic Resize" : "logits, positions resized at export");
    }

    [TestMethod]
    public void OnnxCubicResizeIsOurBicubicInterpolation()
    {
        const int d = 16;
        foreach ((int h0, int w0, int h, int w) in new[] { (4, 4, 5, 6), (7, 5, 12, 9), (14, 14, 24, 31), (14, 14, 60, 60), (8, 8, 3, 5), (14, 14, 3, 2), (6, 6, 6, 6) })
        {
            var builder = new OnnxGraphBuilder("resize");
            builder.Input(CrateOnnxExporter.ImageInput, 1, d, h0, w0);
            string resized = builder.BicubicResize(CrateOnnxExporter.ImageInput, builder.Int64s(1, d, h, w));
            builder.Node("Identity", [resized], output: "resized");
            builder.Output("resized", 1, d, h, w);
            var model = new ModelProto { IrVersion = 8, Graph = builder.Graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
            using var onnx = new OnnxRun(model.ToByteArray());

            using var scope = NewDisposeScope();
            Tensor embedding = randn(1, 1 + h0 * w0, d);
            Tensor grid = embedding.narrow(1, 1, h0 * w0).reshape(1, h0, w0, d).permute(0, 3, 1, 2);
            OnnxOutput output = onnx.Run(Floats(grid), 1, d, h0, w0)["resized"];
            // Ours: PositionalEmbedding.Resize's patch positions, as [1, d, h, w]; in float64 to show the rounding of each side.
            Tensor expected = PositionalEmbedding.Resize(embedding, h0, w0, h, w).narrow(1, 1, h * w).reshape(1, h, w, d).permute(0, 3, 1, 2);
            Tensor exact = PositionalEmbedding.Resize(embedding.to_type(ScalarType.Float64), h0, w0, h, w).narrow(1, 1, h * w).reshape(1, h, w, d).permute(0, 3, 1, 2);
            Tensor actual = tensor(output.Values).reshape(1, d, h, w);
            double scale = embedding.abs().max().item<float>();
            Console.WriteLine($"{h0}×{w0} → {h}×{w}: |ONNX − ours| ≤ {(actual - expected).abs().max().item<float>():E1}, " +
                $"|ONNX − float64| ≤ {(actual.to_type(ScalarType.Float64) - exact).abs().max().item<double>():E1}, " +
                $"|ours − float64| ≤ {(expected.to_type(ScalarType.Float64) - exact).abs().max().item<double>():E1} (values up to {scale:F1})");
            // Sums of 16 float32 products of values up to `scale`: rounding stays far below 1e-5 of the scale.
            CollectionAssert.AreEqual(new[] { 1, d, h, w }, output.Dimensions);
            OnnxAssert.AreClose(Floats(expected), output.Values, 1e-5 * scale, $"{h0}×{w0} → {h}×{w}");
        }
    }

    [TestMethod]
    [DataRow(CrateVariant.Crate)]
    [DataRow(CrateVariant.ViT)]
    public void DynamicSizeFollowsEveryInputSize(CrateVariant variant)
    {
        using var model = new CrateModel(SmallArchitecture(variant, TokenPooling.Cls, 16, 16));
        model.eval();
        using var onnx = new OnnxRun(ExportToBytes(model, new CrateOnnxExportOptions { DynamicImageSize = true, ClsAttentionLayers = [1], HeadFeaturesLayer = 2 }));
        foreach ((int height, int width) in new[] { (16, 16), (24, 12), (8, 28), (32, 32) })
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor images = randn(2, 3, height, width);
            Dictionary<string, OnnxOutput> outputs = onnx.Run(Floats(images), 2, 3, height, width);
            using CrateIntrospection readout = model.Introspect(images, new IntrospectionRequest { Layers = [1, 2], HeadFeatures = true });
            int h = height / 4, w = width / 4;
            AreClose(readout.Logits, outputs["logits"], [2, 5], $"{variant} {height}×{width}: logits");
            AreClose(readout.ForLayer(1).ClsAttention!, outputs["cls_attention"], [2, 1, 3, h, w], $"{variant} {height}×{width}: [CLS] attention");
            AreClose(readout.ForLayer(2).HeadFeatures!, outputs["head_features"], [2, h * w + 1, 24], $"{variant} {height}×{width}: head features");
        }
    }

    [TestMethod]
    public void NormalisationInsideTheGraphIsImageNormalizations()
    {
        using var model = new CrateModel(SmallArchitecture(CrateVariant.Crate, TokenPooling.Cls, 12, 16));
        model.eval();
        var normalization = new ImageNormalization(); // ImageNet's mean and std
        using var onnx = new OnnxRun(ExportToBytes(model, new CrateOnnxExportOptions { Normalization = normalization }));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        ImagePixels[] pixels = Enumerable.Range(0, 2).Select(_ => new ImagePixels(12, 16, Floats(rand(3, 12, 16)))).ToArray();
        Tensor expected = model.forward(normalization.ToBatch(pixels, 12, 16, CPU));
        Dictionary<string, OnnxOutput> outputs = onnx.Run(pixels.SelectMany(p => p.Pixels).ToArray(), 2, 3, 12, 16);
        AreClose(expected, outputs["logits"], [2, 5], "logits from pixels in [0, 1]");
    }

    [TestMethod]
    public void GraphIsOpset17WithLayerNormalizationAndTheStateDictsNames()
    {
        using var model = new CrateModel(SmallArchitecture(CrateVariant.ViT, TokenPooling.Cls, 16, 16));
        ModelProto onnx = ModelProto.Parser.ParseFrom(ExportToBytes(model));
        Assert.AreEqual(17L, onnx.OpsetImport.Single().Version);
        Assert.AreEqual("", onnx.OpsetImport.Single().Domain);
        Assert.IsTrue(onnx.Graph.Node.All(n => n.Domain.Length == 0), "only standard operators");
        // patch_norm, token_norm, two per layer, head_norm
        Assert.AreEqual(2 + 2 * 3 + 1, onnx.Graph.Node.Count(n => n.OpType == "LayerNormalization"));
        Assert.AreEqual(3, onnx.Graph.Node.Count(n => n.OpType == "Erf"), "exact GELU in each of the 3 MLPs");
        HashSet<string> parameters = model.state_dict().Keys.ToHashSet();
        string[] weights = onnx.Graph.Initializer.Where(i => !i.Name.StartsWith("const_")).Select(i => i.Name).ToArray();
        CollectionAssert.AreEquivalent(parameters.ToArray(), weights, "every parameter once, under its state-dict name");
    }

    [TestMethod]
    public void TheComparisonFailsOnNaNAndInfinity()
    {
        OnnxAssert.AreClose([1f, 2f], [1f, 2.00001f], Tolerance, "close values");
        Assert.ThrowsExactly<AssertFailedException>(() => OnnxAssert.AreClose([1f, 2f], [1f, float.NaN], Tolerance, "NaN"));
        Assert.ThrowsExactly<AssertFailedException>(() => OnnxAssert.AreClose([float.NaN], [float.NaN], Tolerance, "NaN on both sides"));
        Assert.ThrowsExactly<AssertFailedException>(() => OnnxAssert.AreClose([1f], [float.PositiveInfinity], Tolerance, "infinity"));
        Assert.ThrowsExactly<AssertFailedException>(() => OnnxAssert.AreClose([1f], [1.001f], Tolerance, "too far"));
    }
}
