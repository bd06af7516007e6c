using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests;

/// <summary>
/// A classifier trained here, exported to ONNX and served by ML.NET's own ApplyOnnxModel (ONNX Runtime under ML.NET):
/// its probabilities must be the classifier transformer's Score column on the embedded dataset, for every variant.
/// </summary>
[TestClass]
public sealed class OnnxPipelineTests
{
    // The bar; ONNX Runtime and TorchSharp differ by float32 rounding (about 1e-7 on probabilities).
    private const double Tolerance = 1e-4;
    private static readonly ShapesDatasetOptions TrainingData = new() { Count = 128, Seed = 31 };
    private static readonly ShapesDatasetOptions TestData = new() { Count = 32, Seed = 32 };
    private static string folder = "";

    [ClassInitialize]
    public static void CreateFolder(TestContext _)
    {
        folder = Path.Combine(Path.GetTempPath(), $"crate-onnx-pipeline-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
    }

    [ClassCleanup]
    public static void DeleteFolder() => Directory.Delete(folder, recursive: true);

    /// <summary>A small CRATE trained for one short epoch: the classifier as a user gets it from the trainer.</summary>
    private static CrateClassifierTransformer Trained(MLContext context)
    {
        var options = new CrateTrainerOptions
        {
            ModelSize = CrateModelSize.Custom, EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 8,
            ImageHeight = 32, ImageWidth = 32, Epochs = 1, BatchSize = 32, WarmupEpochs = 0, RandomResizedCrop = false,
            Seed = 3, Device = ComputeDevice.Cpu,
        };
        ITransformer model = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(options)).Fit(ShapesDataset.LoadDataView(context, TrainingData));
        return ((IEnumerable<ITransformer>)model).OfType<CrateClassifierTransformer>().Single();
    }

    /// <summary>
    /// A classifier over a freshly initialised network of <paramref name="variant"/> whose head is scaled up tenfold, so
    /// that its scores spread far from uniform and any slip in the input's preparation would show in them.
    /// </summary>
    private static CrateClassifierTransformer Untrained(CrateVariant variant, TokenPooling pooling)
    {
        var network = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 8, ImageHeight = 32, ImageWidth = 32,
            ClassCount = 4, Variant = variant, Pooling = pooling,
        }, new TorchSharp.torch.Generator(seed: 7));
        // A head 30× its initial scale spreads the scores far from uniform, so a mismatch in the input's normalisation
        // moves them well beyond the tolerance (checked by the test's precondition).
        using (TorchSharp.torch.no_grad()) network.state_dict()["head.weight"].mul_(30);
        return new CrateClassifierTransformer(network, new CrateClassifierSettings
        {
            ImageHeight = 32, ImageWidth = 32, Device = ComputeDevice.Cpu,
            Labels = new LabelKeyValues("Text", ShapesDataset.ClassNames(TestData).ToArray()),
        });
    }

    /// <summary>The classifier's Score column and, over the exported file, ExtractPixels → ApplyOnnxModel's probabilities.</summary>
    private static ITransformer AssertOnnxPipelineScoresAsTheClassifier(CrateClassifierTransformer classifier, string name,
        CrateOnnxExportOptions? options = null, IDictionary<string, int[]>? shapes = null)
    {
        var context = new MLContext(seed: 0);
        IDataView test = ShapesDataset.LoadDataView(context, TestData);
        float[][] expected = classifier.Transform(test).GetColumn<float[]>("Score").ToArray();
        string path = Path.Combine(folder, $"{name}.onnx");
        // By default the classifier's normalisation goes inside the graph: ExtractPixels' one scale is all ML.NET needs.
        classifier.ExportToOnnx(path, options);
        var pipeline = context.Transforms.ExtractPixels("image", "Image", interleavePixelColors: false, scaleImage: 1f / 255)
            .Append(shapes is null
                ? context.Transforms.ApplyOnnxModel([CrateOnnxExporter.ProbabilitiesOutput], ["image"], path)
                : context.Transforms.ApplyOnnxModel([CrateOnnxExporter.ProbabilitiesOutput], ["image"], path, shapes, recursionLimit: 100));
        ITransformer serving = pipeline.Fit(test);
        AssertSameScores(expected, serving.Transform(test).GetColumn<float[]>(CrateOnnxExporter.ProbabilitiesOutput).ToArray(), name);
        return serving;
    }

    private static void AssertSameScores(float[][] expected, float[][] actual, string what)
    {
        Assert.HasCount(expected.Length, actual, $"{what}: rows");
        for (int row = 0; row < expected.Length; row++)
        {
            Assert.HasCount(expected[row].Length, actual[row], $"{what}, row {row}: classes");
            for (int c = 0; c < expected[row].Length; c++)
            {
                double difference = Math.Abs(expected[row][c] - actual[row][c]);
                // NaN-safe: fails unless the difference is a number within the tolerance (NaN <= x is false).
                if (!(difference <= Tolerance))
                    Assert.Fail($"{what}, row {row}, class {c}: {actual[row][c]:G9} against the classifier's {expected[row][c]:G9}.");
            }
        }
    }

    [TestMethod]
    public void ATrainedClassifierScoresTheSameThroughApplyOnnxModel()
    {
        CrateClassifierTransformer classifier = Trained(new MLContext(seed: 0));
        ITransformer serving = AssertOnnxPipelineScoresAsTheClassifier(classifier, "trained");
        // Only ML.NET's own transformers: ML.NET's Model.Save keeps the pipeline, the ONNX model inside.
        var context = new MLContext(seed: 0);
        IDataView test = ShapesDataset.LoadDataView(context, TestData);
        string zip = Path.Combine(folder, "serving.zip");
        context.Model.Save(serving, test.Schema, zip);
        ITransformer loaded = new MLContext().Model.Load(zip, out _);
        AssertSameScores(classifier.Transform(test).GetColumn<float[]>("Score").ToArray(),
            loaded.Transform(test).GetColumn<float[]>(CrateOnnxExporter.ProbabilitiesOutput).ToArray(), "saved by ML.NET and loaded");
        // The same file with the input size left to each image: ApplyOnnxModel takes it from its shape dictionary.
        AssertOnnxPipelineScoresAsTheClassifier(classifier, "trained-dynamic",
            classifier.OnnxExportOptions() with { ImageHeight = null, ImageWidth = null, DynamicImageSize = true },
            new Dictionary<string, int[]> { ["image"] = [1, 3, 32, 32] });
    }

    [TestMethod]
    [DataRow(CrateVariant.Crate, TokenPooling.Mean)]
    [DataRow(CrateVariant.ViT, TokenPooling.Cls)]
    [DataRow(CrateVariant.ViT, TokenPooling.Mean)]
    [DataRow(CrateVariant.CrateMhsa, TokenPooling.Cls)]
    [DataRow(CrateVariant.CrateMlp, TokenPooling.Mean)]
    [DataRow(CrateVariant.CrateSoftThreshold, TokenPooling.Cls)]
    public void EveryVariantScoresTheSameThroughApplyOnnxModel(CrateVariant variant, TokenPooling pooling)
    {
        CrateClassifierTransformer classifier = Untrained(variant, pooling);
        float[][] scores = classifier.Transform(ShapesDataset.LoadDataView(new MLContext(seed: 0), TestData)).GetColumn<float[]>("Score").ToArray();
        Assert.IsGreaterThan(0.9f, scores.Max(s => s.Max()), "scores spread far from uniform");
        AssertOnnxPipelineScoresAsTheClassifier(classifier, $"{variant}-{pooling}");
    }
}
