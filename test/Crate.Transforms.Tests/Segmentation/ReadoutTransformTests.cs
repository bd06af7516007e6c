using System.IO.Compression;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>
/// Each read-out transform on the PyTorch fixture model (crate_square: 32×32, patch 8, 4 heads, 3 layers)
/// against the same quantity computed by hand from <see cref="CrateModel.Introspect"/>.
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
    private static readonly ImageNormalization Identity = new() { Mean = [0, 0, 0], Std = [1, 1, 1] };
    private static CrateModel? model;
    private static Tensor? inputs;

    private static CrateModel Model => model ??= CrateCheckpointImporter.Import(ReferenceFixtures.PathOf("crate_square.pt"), new CheckpointImportOptions { Heads = 4 });

    private static Tensor Inputs => inputs ??= ReferenceFixtures.Array("crate_square", "input");

    private static (MLContext, IDataView) Data()
    {
        var context = new MLContext(seed: 1);
        Row[] rows = Enumerable.Range(0, 2).Select(i => new Row { Image = Inputs[i].flatten().data<float>().ToArray(), Name = $"img{i}" }).ToArray();
        return (context, context.Data.LoadFromEnumerable(rows));
    }

    private static CrateIntrospection Introspect() => Model.Introspect(Inputs, IntrospectionRequest.Everything);

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
        using var _ = no_grad();
        using Tensor expected = Model.EmbedPatches(Inputs);
        for (int i = 0; i < 2; i++)
            TensorAssert.AreClose(expected[i].flatten(), tensor(tokens[i]), 1e-6, $"image {i}");
    }

    [TestMethod]
    public void AttentionIsThePenultimateLayersClsMapsByDefault()
    {
        (MLContext context, IDataView data) = Data();
        IDataView output = context.Transforms.CrateAttention(Model, new CrateAttentionOptions { Normalization = Identity, Heads = [3, 1] })
            .Fit(data).Transform(data);
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 4 }, ((VectorDataViewType)output.Schema["Attention"].Type).Dimensions.ToArray());
        float[][] maps = output.GetColumn<float[]>("Attention").ToArray();
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        Tensor cls = readout.ForLayer(1).ClsAttention!; // [2, 4, 16]; layer 1 is the penultimate of 3
        for (int i = 0; i < 2; i++)
            TensorAssert.AreClose(stack([cls[i, 3], cls[i, 1]]).flatten(), tensor(maps[i]), 1e-6, $"image {i}");
        // Each map is a distribution over the patches (eq. 10).
        Assert.AreEqual(1.0, maps[0].Take(16).Sum(), 1e-5);
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
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        Tensor cls = readout.ForLayer(2).ClsAttention![0, 1].reshape(4, 4);
        // Layer index 1 of the output (model layer 2), head 1, pixel (13, 30) lies in patch (1, 3).
        Assert.AreEqual(cls[1, 3].item<float>(), maps[((1 * 4 + 1) * 32 + 13) * 32 + 30], 1e-6f);
        TensorAssert.AreClose(stack([readout.ForLayer(0).Attention![0], readout.ForLayer(2).Attention![0]]).flatten(), tensor(tokens), 1e-5, "token attention"); // layer 1 took the fused path here
    }

    [TestMethod]
    public void SegmentMasksAreTheRulesAppliedToTheClsMaps()
    {
        (MLContext context, IDataView data) = Data();
        IDataView output = context.Transforms.CrateSegment(Model, new CrateSegmentOptions { Normalization = Identity, Heads = [0, 2] })
            .Fit(data).Transform(data);
        bool[][] merged = output.GetColumn<bool[]>("Mask").ToArray();
        bool[][] heads = output.GetColumn<bool[]>("HeadMasks").ToArray();
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        for (int i = 0; i < 2; i++)
        {
            float[] head0 = readout.ForLayer(1).ClsAttention![i, 0].data<float>().ToArray();
            float[] head2 = readout.ForLayer(1).ClsAttention![i, 2].data<float>().ToArray();
            CollectionAssert.AreEqual(AttentionMaskRules.TopFraction(head0, 0.6).Concat(AttentionMaskRules.TopFraction(head2, 0.6)).ToArray(), heads[i]);
            float[] mean = head0.Zip(head2, (a, b) => a / 2 + b / 2).ToArray();
            CollectionAssert.AreEqual(AttentionMaskRules.TopFraction(mean, 0.6), merged[i]);
            Assert.AreEqual(10, merged[i].Count(m => m), "⌈0.6·16⌉ = 10 patches");
        }
    }

    [TestMethod]
    public void SegmentCalibrationPicksTheHeadThatMatchesTheTruth()
    {
        (MLContext context, IDataView data) = Data();
        // Ground truth = head 2's own top-60% mask of each image: calibration must pick head 2.
        using CrateIntrospection readout = Introspect();
        bool[][] truth = Enumerable.Range(0, 2)
            .Select(i => AttentionMaskRules.TopFraction(readout.ForLayer(1).ClsAttention![i, 2].data<float>().ToArray(), 0.6)).ToArray();
        var rows = Enumerable.Range(0, 2).Select(i => new CalibrationRow { Image = Inputs[i].flatten().data<float>().ToArray(), Truth = truth[i] });
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
                    Assert.AreEqual(expected, rgb[i][k * 16 + patch], 1e-4, $"image {i} patch {patch} channel {k}");
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
        Assert.IsGreaterThan(0.999, basis.First[0], "u₀ is e₀, oriented towards the foreground");
        for (int k = 0; k < 3; k++)
            Assert.IsGreaterThan(0.99, Math.Abs(basis.Components[k * width + k + 1]), $"component {k + 1} is e{k + 1}");
    }

    [TestMethod]
    public void MaskCutIsTheCutOfTheLastLayersHeadFeatures()
    {
        (MLContext context, IDataView data) = Data();
        var options = new CrateMaskCutOptions { Normalization = Identity, ImageHeight = 32, ImageWidth = 32, Cut = new MaskCutOptions { MinAreaFraction = 0 } };
        IDataView output = context.Transforms.CrateMaskCut(Model, options).Fit(data).Transform(data);
        bool[][] masks = output.GetColumn<bool[]>("MaskCutMasks").ToArray();
        float[][] boxes = output.GetColumn<float[]>("MaskCutBoxes").ToArray();
        float[][] scores = output.GetColumn<float[]>("MaskCutScores").ToArray();
        using var _ = no_grad();
        using CrateIntrospection readout = Introspect();
        for (int i = 0; i < 2; i++)
        {
            Tensor patches = readout.ForLayer(2).HeadFeatures![i].narrow(0, 1, 16);
            MaskCutResult cut = MaskCut.Segment(patches, 4, 4, options.Cut);
            IReadOnlyList<UpsampledMask> expected = cut.Upsample(32, 32);
            Assert.IsNotEmpty(expected, $"image {i} has an object");
            CollectionAssert.AreEqual(expected.SelectMany(m => m.Mask.Cells.ToArray()).ToArray(), masks[i], $"image {i} masks");
            CollectionAssert.AreEqual(expected.SelectMany(m => new float[] { m.Box.X, m.Box.Y, m.Box.X + m.Box.Width - 1, m.Box.Y + m.Box.Height - 1 }).ToArray(), boxes[i]);
            CollectionAssert.AreEqual(expected.Select(m => (float)cut.Objects[m.Source].Score).ToArray(), scores[i]);
        }
        // CutLER's input size by default: 60 patches a side.
        Assert.AreEqual(480, context.Transforms.CrateMaskCut(Model).Fit(data).ImageHeight);
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
        bool[][] masksBefore = pipeline.Transform(data).GetColumn<bool[]>("Mask").ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"crate-readouts-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, pipeline, data.Schema, path);
            using (ZipArchive archive = ZipFile.OpenRead(path))
                Assert.AreEqual(1, archive.Entries.Count(e => e.FullName.StartsWith("networks/", StringComparison.Ordinal)));
            ITransformer loaded = CratePipelineFile.Load(new MLContext(seed: 3), path, out _);
            float[][] after = loaded.Transform(data).GetColumn<float[]>("Attention").ToArray();
            for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(before[i], after[i]);
            bool[][] masksAfter = loaded.Transform(data).GetColumn<bool[]>("Mask").ToArray();
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
        float[] batched = transformer.Transform(data).GetColumn<float[]>("Attention").Last();
        float[] single = engine.Predict(new Row { Image = Inputs[1].flatten().data<float>().ToArray() }).Attention;
        for (int i = 0; i < batched.Length; i++) Assert.AreEqual(batched[i], single[i], 1e-6f);
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
