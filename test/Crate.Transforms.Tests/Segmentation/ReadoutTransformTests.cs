using System.IO.Compression;
using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Crate.Transforms.Tests.Network;
using Crate.Transforms.Tests.Readouts;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>
/// Each read-out transform on the PyTorch fixture model (crate_square: 32×32, patch 8, 4 heads, 3 layers) against an
/// oracle that shares none of the transforms' code: what PyTorch computed from the same weights and inputs
/// (Fixtures/README.md), the network's equations by hand (<see cref="HandComputedCrate"/>), or a rule applied by hand to
/// those. The MaskCut transform has its own class (<see cref="CrateMaskCutTransformTests"/>).
/// </summary>
[TestClass]
public sealed class ReadoutTransformTests
{
    public sealed class Row
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = [];

        public string Name { get; set; } = "";
    }

    // The fixture inputs are already network inputs: normalisation must leave them as they are.
    private static readonly ImageNormalization Identity = FixtureImages.Identity;
    private static CrateModel? model;
    private static Tensor? inputs;

    private static CrateModel Model => model ??= CrateCheckpointImporter.Import(ReferenceFixtures.PathOf("crate_square.pt"), new CheckpointImportOptions { Heads = 4 });

    private static Tensor Inputs => inputs ??= ReferenceFixtures.Array("crate_square", "input");

    private static (MLContext, IDataView) Data()
    {
        var context = new MLContext(seed: 1);
        Row[] rows = Enumerable.Range(0, 2).Select(i => new Row { Image = FixtureImages.AsPixels(Inputs[i]), Name = $"img{i}" }).ToArray();
        return (context, context.Data.LoadFromEnumerable(rows));
    }

    private static CrateIntrospection Introspect() => Model.Introspect(Inputs, IntrospectionRequest.Everything);

    /// <summary>What PyTorch computed for image <paramref name="image"/>: the [CLS] map of eq. (10) of one head at one
    /// layer, 16 patches.</summary>
    private static double[] PyTorchClsMap(int layer, int image, int head) =>
        NumericAssert.Values(ReferenceFixtures.Array("crate_square", "cls_attention")[layer, image, head]);

    /// <summary>Our network's [CLS] map (eq. 10) of one head at one layer for both images, read from a full
    /// introspection, which computes every layer's attention explicitly (the transforms use the fused kernel for the
    /// layers they do not read).</summary>
    private static double[][] ClsMaps(int layer, int head)
    {
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        return Enumerable.Range(0, 2).Select(i => NumericAssert.Values(readout.ForLayer(layer).ClsAttention![i, head])).ToArray();
    }

    /// <summary>
    /// The top-P rule by hand: the ⌈P·N⌉ largest entries, found by sorting. The maps it is given and the ones the
    /// transform thresholds are two float32 evaluations of the same network in different summation orders: their scores
    /// agree to ~1e-5, so each probability to a relative ~2e-5. The rule is only checked where the last kept and the
    /// first dropped entry differ by more than a relative 1e-3, so both select the same patches.
    /// </summary>
    private static bool[] TopShare(double[] map, double share)
    {
        int keep = (int)Math.Ceiling(share * map.Length);
        int[] order = Enumerable.Range(0, map.Length).OrderByDescending(i => map[i]).ToArray();
        double kept = map[order[keep - 1]], dropped = map[order[keep]];
        NumericAssert.IsAbove(1e-3, (kept - dropped) / kept, "premise: a clear gap between the last kept and the first dropped entry");
        var mask = new bool[map.Length];
        foreach (int i in order.Take(keep)) mask[i] = true;
        return mask;
    }

    [TestMethod]
    public void PatchEmbeddingIsFZeroWithItsGridAnnotated()
    {
        (MLContext context, IDataView data) = Data();
        var estimator = context.Transforms.CratePatchEmbedding(Model, new CratePatchEmbeddingOptions { Normalization = Identity, Device = ComputeDevice.Cpu });
        IDataView output = estimator.Fit(data).Transform(data);
        DataViewSchema.Column column = output.Schema["PatchTokens"];
        CollectionAssert.AreEqual(new[] { 16, 48 }, ((VectorDataViewType)column.Type).Dimensions.ToArray());
        VBuffer<int> grid = default;
        column.Annotations.GetValue(CratePatchEmbeddingTransformer.PatchGridAnnotation, ref grid);
        CollectionAssert.AreEqual(new[] { 4, 4 }, grid.DenseValues().ToArray());
        float[][] tokens = output.GetColumn<float[]>("PatchTokens").ToArray();
        var oracle = new HandComputedCrate(Model);
        // f⁰ by hand in float64: the float32 side sums 192 products (the patch projection) of LayerNorm-scaled pixels
        // (γ = 1 + 0.3·N(0, 1)) with weights of PyTorch's ±1/√192 initialisation, Σ|terms| ≲ 15; random-sign rounding
        // errors add like √192·u·15 ≈ 1.2e-5, and the token LayerNorm divides by a standard deviation of order one.
        for (int i = 0; i < 2; i++)
            NumericAssert.AreAllClose(oracle.PatchTokens(Inputs[i]).Cast<double>().ToArray(), tokens[i].Select(v => (double)v).ToArray(),
                new Tolerance(Absolute: 1e-4, Relative: 1e-4), $"image {i}");
    }

    [TestMethod]
    public void AttentionIsThePenultimateLayersClsMapsByDefault()
    {
        (MLContext context, IDataView data) = Data();
        IDataView output = context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Normalization = Identity, Heads = [3, 1] })
            .Fit(data).Transform(data);
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 4 }, ((VectorDataViewType)output.Schema["Attention"].Type).Dimensions.ToArray());
        float[][] maps = output.GetColumn<float[]>("Attention").ToArray();
        // Layer 1 is the penultimate of 3; heads in the order asked for.
        for (int i = 0; i < 2; i++)
            NumericAssert.AreAllClose(PyTorchClsMap(1, i, 3).Concat(PyTorchClsMap(1, i, 1)).ToArray(), maps[i].Select(v => (double)v).ToArray(),
                ReferenceParityTests.Parity, $"image {i}");
        // Each map is a distribution over the patches (eq. 10): 16 float32 terms in [0, 1] sum to 1 within 16·u.
        NumericAssert.AreClose(1.0, maps[0].Take(16).Sum(), new Tolerance(16 * Tolerance.Float32Roundoff), "sum of a map");
    }

    [TestMethod]
    public void NearestUpsamplingFillsEachPatchAndTokenAttentionIsTheFullMatrix()
    {
        (MLContext context, IDataView data) = Data();
        IDataView output = context.Transforms.CrateAttention(Model, new CrateAttentionOptions
        {
            Normalization = Identity, Layers = [0, 2], Upsampling = MapUpsampling.Nearest, TokenAttentionColumnName = "Tokens",
        }).Fit(data).Transform(data);
        CollectionAssert.AreEqual(new[] { 2, 4, 32, 32 }, ((VectorDataViewType)output.Schema["Attention"].Type).Dimensions.ToArray());
        float[] maps = output.GetColumn<float[]>("Attention").First();
        float[] tokens = output.GetColumn<float[]>("Tokens").First();
        // Layer index 1 of the output (model layer 2), head 1: every pixel of patch (1, 3) carries its value.
        double expected = PyTorchClsMap(2, 0, 1)[1 * 4 + 3];
        for (int y = 8; y < 16; y++)
            for (int x = 24; x < 32; x++)
                NumericAssert.AreClose(expected, maps[((1 * 4 + 1) * 32 + y) * 32 + x], ReferenceParityTests.Parity, $"pixel ({y}, {x})");
        // The full [17, 17] matrices of eq. (5) by hand: layer 0 from the image, layer 2 from PyTorch's layer-1 tokens.
        var oracle = new HandComputedCrate(Model);
        HandLayer first = oracle.Layer(0, oracle.Embed(Inputs[0]));
        HandLayer last = oracle.Layer(2, HandComputed.Matrix(ReferenceFixtures.Array("crate_square", "layer_outputs")[1, 0]));
        double[] byHand = first.Attention.Concat(last.Attention).SelectMany(a => a.Cast<double>()).ToArray();
        NumericAssert.AreAllClose(byHand, tokens.Select(v => (double)v).ToArray(), ReferenceParityTests.Parity, "token attention");
    }

    [TestMethod]
    public void SegmentMasksAreTheRulesAppliedToTheClsMaps()
    {
        (MLContext context, IDataView data) = Data();
        IDataView output = context.Transforms.CrateSegment(Model, new CrateSegmentOptions { Normalization = Identity, Heads = [0, 2] })
            .Fit(data).Transform(data);
        bool[][] merged = output.GetColumn<bool[]>("PredictedMask").ToArray();
        bool[][] heads = output.GetColumn<bool[]>("HeadMasks").ToArray();
        double[][] maps0 = ClsMaps(1, 0), maps2 = ClsMaps(1, 2);
        for (int i = 0; i < 2; i++)
        {
            // The penultimate layer's maps, the top 60 % (⌈0.6·16⌉ = 10 patches) picked by sorting.
            double[] head0 = maps0[i], head2 = maps2[i];
            CollectionAssert.AreEqual(TopShare(head0, 0.6).Concat(TopShare(head2, 0.6)).ToArray(), heads[i], $"image {i} head masks");
            CollectionAssert.AreEqual(TopShare(head0.Zip(head2, (a, b) => (a + b) / 2).ToArray(), 0.6), merged[i], $"image {i} merged mask");
            Assert.AreEqual(10, merged[i].Count(m => m), "⌈0.6·16⌉ = 10 patches");
        }
    }

    [TestMethod]
    public void SegmentCalibrationPicksTheHeadThatMatchesTheTruth()
    {
        (MLContext context, IDataView data) = Data();
        // Ground truth = head 2's top-60% mask of each image, by hand: calibration must pick head 2.
        bool[][] truth = ClsMaps(1, 2).Select(map => TopShare(map, 0.6)).ToArray();
        var rows = Enumerable.Range(0, 2).Select(i => new CalibrationRow { Image = FixtureImages.AsPixels(Inputs[i]), Truth = truth[i] });
        IDataView calibration = context.Data.LoadFromEnumerable(rows);
        CrateSegmentTransformer fitted = context.Transforms.CrateSegment(Model, new CrateSegmentOptions
        {
            Normalization = Identity, CalibrationMaskColumnName = "Truth", CalibrationHeadCount = 1,
        }).Fit(calibration);
        CollectionAssert.AreEqual(new[] { 2 }, fitted.SelectedHeads.ToArray());
    }

    public sealed class CalibrationRow
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = [];

        [VectorType(16)]
        public bool[] Truth { get; set; } = [];
    }

    [TestMethod]
    public void PcaMapsFollowTheFittedBasisByHand()
    {
        (MLContext context, IDataView data) = Data();
        CratePcaFeaturesTransformer pca = context.Transforms.CratePcaFeatures(Model, new CratePcaFeaturesOptions { Normalization = Identity }).Fit(data);
        IDataView output = pca.Transform(data);
        float[][] rgb = output.GetColumn<float[]>("PcaRgb").ToArray();
        bool[][] foreground = output.GetColumn<bool[]>("Foreground").ToArray();
        PcaBasis basis = pca.Basis;
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        int width = 48;
        for (int i = 0; i < 2; i++)
        {
            float[] features = readout.ForLayer(2).HeadFeatures![i].data<float>().ToArray(); // [17, 48], cls first
            for (int patch = 0; patch < 16; patch++)
            {
                double score = 0;
                for (int c = 0; c < width; c++) score += (features[(patch + 1) * width + c] - basis.Mean[c]) * basis.First[c];
                bool isForeground = (score - basis.FirstRange[0]) / (basis.FirstRange[1] - basis.FirstRange[0]) >= 0.5;
                Assert.AreEqual(isForeground, foreground[i][patch], $"image {i} patch {patch}");
                for (int k = 0; k < 3; k++)
                {
                    double projection = 0;
                    for (int c = 0; c < width; c++)
                        projection += (features[(patch + 1) * width + c] - basis.ForegroundMean[c]) * basis.Components[k * width + c];
                    double expected = isForeground
                        ? Math.Clamp((projection - basis.ComponentRanges[2 * k]) / (basis.ComponentRanges[2 * k + 1] - basis.ComponentRanges[2 * k]), 0, 1)
                        : 0;
                    // Projections are 48-term dot products of features ≲ 10 with unit components, off by ≲ √48·u·|f| ≈ 4e-6
                    // in float32 before the division by a range of order one.
                    NumericAssert.AreClose(expected, rgb[i][k * 16 + patch], new Tolerance(1e-4), $"image {i} patch {patch} channel {k}");
                }
            }
        }
    }

    [TestMethod]
    public void PcaRecoversPlantedComponents()
    {
        // 4 images of a 6×6 grid; features of width 8. Background patches (the border ring) sit near −3·e₀,
        // foreground patches near +3·e₀ and vary along e₁ (large), e₂ (medium), e₃ (small).
        var random = new Random(7);
        int images = 4, grid = 6, width = 8;
        var values = new float[images * grid * grid * width];
        for (int i = 0; i < images; i++)
            for (int y = 0; y < grid; y++)
                for (int x = 0; x < grid; x++)
                {
                    int offset = ((i * grid + y) * grid + x) * width;
                    bool inside = y is > 0 and < 5 && x is > 0 and < 5;
                    for (int c = 0; c < width; c++) values[offset + c] = (float)(0.01 * (random.NextDouble() - 0.5));
                    values[offset] += inside ? 3 : -3;
                    if (inside)
                    {
                        values[offset + 1] += (float)(2.0 * (random.NextDouble() - 0.5) * 4);
                        values[offset + 2] += (float)(2.0 * (random.NextDouble() - 0.5) * 2);
                        values[offset + 3] += (float)(2.0 * (random.NextDouble() - 0.5) * 1);
                    }
                }
        using Tensor features = tensor(values, [images, grid * grid, width]);
        PcaBasis basis = CratePcaFeaturesTransformer.FitBasis(features, grid, grid, 0.5);
        NumericAssert.IsAbove(0.999, basis.First[0], "u₀ is e₀, oriented towards the foreground");
        for (int k = 0; k < 3; k++)
            NumericAssert.IsAbove(0.99, Math.Abs(basis.Components[k * width + k + 1]), $"component {k + 1} is e{k + 1}");
    }

    [TestMethod]
    public void EstimatorSchemasAreExactlyWhatTheTransformersProduce()
    {
        (MLContext context, IDataView data) = Data();
        SchemaShape input = MLNetInternals.ShapeOf(data.Schema);
        void Check<T>(CrateReadoutEstimator<T> estimator) where T : class, ITransformer
        {
            SchemaShape predicted = estimator.GetOutputSchema(input);
            SchemaShape actual = MLNetInternals.ShapeOf(estimator.Fit(data).GetOutputSchema(data.Schema));
            CollectionAssert.AreEqual(actual.Select(Describe).ToArray(), predicted.Select(Describe).ToArray(), typeof(T).Name);
        }
        Check(context.Transforms.CratePatchEmbedding(Model, new CratePatchEmbeddingOptions { Normalization = Identity }));
        Check(context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Normalization = Identity, TokenAttentionColumnName = "T" }));
        Check(context.Transforms.CrateSegment(Model, new CrateSegmentOptions { Normalization = Identity, Resolution = MaskResolution.Image }));
        Check(context.Transforms.CratePcaFeatures(Model, new CratePcaFeaturesOptions { Normalization = Identity }));
        Check(context.Transforms.CrateMaskCut(Model, new CrateMaskCutOptions { Normalization = Identity, ImageHeight = 32, ImageWidth = 32 }));
    }

    private static string Describe(SchemaShape.Column c) =>
        $"{c.Name}:{c.Kind}:{c.ItemType}:{c.IsKey}:[{string.Join(",", c.Annotations.Select(a => a.Name))}]";

    [TestMethod]
    public void TransformsSharingANetworkSaveItOnceAndLoadBackIdentically()
    {
        (MLContext context, IDataView data) = Data();
        ITransformer pipeline = context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Normalization = Identity })
            .Append(context.Transforms.CrateSegment(Model, new CrateSegmentOptions { Normalization = Identity, Heads = [1] }))
            .Fit(data);
        float[][] before = pipeline.Transform(data).GetColumn<float[]>("Attention").ToArray();
        bool[][] masksBefore = pipeline.Transform(data).GetColumn<bool[]>("PredictedMask").ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"crate-readouts-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, pipeline, data.Schema, path);
            using (ZipArchive archive = ZipFile.OpenRead(path))
                Assert.AreEqual(1, archive.Entries.Count(e => e.FullName.StartsWith("networks/", StringComparison.Ordinal)));
            ITransformer loaded = CratePipelineFile.Load(new MLContext(seed: 3), path, out _);
            float[][] after = loaded.Transform(data).GetColumn<float[]>("Attention").ToArray();
            for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(before[i], after[i]);
            bool[][] masksAfter = loaded.Transform(data).GetColumn<bool[]>("PredictedMask").ToArray();
            for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(masksBefore[i], masksAfter[i]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public sealed class AttentionOutput
    {
        public float[] Attention { get; set; } = [];
    }

    [TestMethod]
    public void PredictionEngineReadsOneImage()
    {
        (MLContext context, IDataView data) = Data();
        ITransformer transformer = context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Normalization = Identity }).Fit(data);
        var engine = context.Model.CreatePredictionEngine<Row, AttentionOutput>(transformer, inputSchema: data.Schema);
        float[] single = engine.Predict(new Row { Image = FixtureImages.AsPixels(Inputs[1]) }).Attention;
        // Image 1 alone gives PyTorch's maps of the penultimate layer, all four heads.
        double[] expected = Enumerable.Range(0, 4).SelectMany(h => PyTorchClsMap(1, 1, h)).ToArray();
        NumericAssert.AreAllClose(expected, single.Select(v => (double)v).ToArray(), ReferenceParityTests.Parity, "one image through the engine");
    }

    [TestMethod]
    public void BadInputsAreNamed()
    {
        (MLContext context, IDataView data) = Data();
        var wrongType = Assert.ThrowsExactly<ArgumentException>(() =>
            context.Transforms.CrateAttention(Model, new CrateAttentionOptions { InputColumnName = "Name" }).Fit(data).Transform(data));
        StringAssert.Contains(wrongType.Message, "'Name'");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() =>
            context.Transforms.CrateAttention(Model, new CrateAttentionOptions { PatchSize = 16 })).Message, "patch size 16");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Layers = [3] })).Message, "Layer 3");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            context.Transforms.CrateSegment(Model, new CrateSegmentOptions { Heads = [4] })).Message, "Head 4");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            context.Transforms.CrateAttention(Model).GetOutputSchema(MLNetInternals.ShapeOf(context.Data.LoadFromEnumerable(new[] { new { X = 1f } }).Schema))).Message, "'Image'");
        // An MLImage smaller than one 8×8 patch is refused when its row is read.
        var tiny = Microsoft.ML.Data.MLImage.CreateFromPixels(4, 4, MLPixelFormat.Rgba32, new byte[4 * 4 * 4]);
        IDataView images = context.Data.LoadFromEnumerable(new[] { new ImageRow { Image = tiny } });
        IDataView output = context.Transforms.CrateAttention(Model).Fit(images).Transform(images);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => output.GetColumn<float[]>("Attention").ToArray()).Message, "smaller than one 8×8 patch");
    }

    public sealed class ImageRow
    {
        [Microsoft.ML.Transforms.Image.ImageType(4, 4)]
        public MLImage? Image { get; set; }
    }
}
