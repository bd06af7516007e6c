// The README's main job: make the embedded shapes dataset, train a small CRATE on it in an ordinary ML.NET
// pipeline with a progress bar, report test accuracy, save the model, and write attention and segmentation
// pictures of a few test images: segmentation from a classifier, as the paper claims.
// Usage: dotnet run -c Release --project samples/Crate.Quickstart -- [--device cpu|cuda|auto] [--epochs N]
//        [--train N] [--test N] [--output DIR]
//    or: ... -- --score MODEL.zip [--test N]   (load a saved pipeline and print each test image's scores)
using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Visualization;
using Microsoft.ML;
using Microsoft.ML.Data;

var device = ComputeDevice.Auto;
int epochs = 16, trainCount = 4000, testCount = 600;
string output = Path.GetFullPath("crate-quickstart-output");
string? scoreModel = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--device": device = Enum.Parse<ComputeDevice>(Next(), ignoreCase: true); break;
        case "--epochs": epochs = int.Parse(Next()); break;
        case "--train": trainCount = int.Parse(Next()); break;
        case "--test": testCount = int.Parse(Next()); break;
        case "--output": output = Path.GetFullPath(Next()); break;
        case "--score": scoreModel = Path.GetFullPath(Next()); break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: [--device cpu|cuda|auto] [--epochs N] [--train N] [--test N] [--output DIR]");
            return 2;
    }
}
var context = new MLContext(seed: 0);
if (scoreModel is not null)
{
    // A saved pipeline scored in this process: what a user's service does with the file the main job writes.
    ITransformer loaded = CratePipelineFile.Load(context, scoreModel, out _);
    IDataView images = ShapesDataset.LoadDataView(context, new ShapesDatasetOptions { Count = testCount, Seed = 2 });
    foreach (float[] scores in loaded.Transform(images).GetColumn<float[]>("Score"))
        Console.WriteLine(string.Join(' ', scores.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
    return 0;
}
Directory.CreateDirectory(output);

// The progress bar shows training; only warnings and errors of the log are printed.
context.Log += (_, e) => { if (e.Kind >= Microsoft.ML.Runtime.ChannelMessageKind.Warning) Console.WriteLine($"\n{e.Message}"); };
var train = new ShapesDatasetOptions { Count = trainCount, Seed = 1 };
var test = train with { Count = testCount, Seed = 2 };
Console.WriteLine($"Embedded dataset: {trainCount} training and {testCount} test images at 32×32, classes {string.Join(", ", ShapesDataset.ClassNames(train))}");

// A small CRATE (d 64, 4 layers of 4 heads, patch 8): AdamW with a one-epoch warm-up and a per-step cosine, flips
// only (random crops of a 32×32 image too often cut the object away).
var options = new CrateTrainerOptions
{
    ModelSize = CrateModelSize.Custom, EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 8,
    ImageHeight = 32, ImageWidth = 32, Epochs = epochs, BatchSize = 64, Optimizer = CrateOptimizerKind.AdamW, LearningRate = 3e-3,
    WeightDecay = 0.05, WarmupEpochs = 1, Schedule = ScheduleGranularity.PerStep, RandomResizedCrop = false, Seed = 0, Device = device,
    LogEverySteps = 10, Progress = ShowProgress,
};
var pipeline = context.Transforms.Conversion.MapValueToKey("Label")
    .Append(context.MulticlassClassification.Trainers.Crate(options))
    .Append(context.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
var clock = Stopwatch.StartNew();
IDataView trainData = ShapesDataset.LoadDataView(context, train);
ITransformer model = pipeline.Fit(trainData);
Console.WriteLine($"\nTrained in {clock.Elapsed.TotalSeconds:F0} s.");

IDataView testData = ShapesDataset.LoadDataView(context, test);
MulticlassClassificationMetrics metrics = context.MulticlassClassification.Evaluate(model.Transform(testData));
Console.WriteLine($"Test accuracy: {metrics.MicroAccuracy:P1} (macro {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3})");

string modelPath = Path.Combine(output, "crate-shapes.zip");
CratePipelineFile.Save(context, model, trainData.Schema, modelPath);
Console.WriteLine($"Model saved: {modelPath} (load it with CratePipelineFile.Load)");

// Segmentation for free: the trained network's [CLS] attention and the masks it gives, on a few test images.
CrateNetworkSource network = CrateNetworkSource.FromFittedModel(model);
var picturesOf = test with { Count = 6 };
IDataView few = ShapesDataset.LoadDataView(context, picturesOf);
var normalization = new ImageNormalization();
using var readouts = context.Transforms.CrateAttention(network, new CrateAttentionOptions { Normalization = normalization })
    .Append(context.Transforms.CrateSegment(network, new CrateSegmentOptions { Normalization = normalization }))
    .Fit(few);
IDataView read = readouts.Transform(few);
float[][] attention = read.GetColumn<float[]>("Attention").ToArray();
bool[][] masks = read.GetColumn<bool[]>("Mask").ToArray();
int grid = 32 / options.PatchSize;
for (int i = 0; i < attention.Length; i++)
{
    ShapesSample sample = ShapesDataset.Sample(picturesOf, i);
    using MLImage picture = ShapesDataset.ToImage(sample);
    ImagePixels pixels = ImageColumn.FromImage(picture, "Image", i);
    using MLImage heads = SegmentationPictures.HeadGrid(pixels, attention[i], options.Heads, grid, grid, columns: options.Heads, scale: 8);
    heads.Save(Path.Combine(output, $"attention-{i}-{sample.Label}.png"));
    using MLImage overlay = SegmentationPictures.MaskOverlay(pixels, masks[i], grid, grid, scale: 8);
    overlay.Save(Path.Combine(output, $"segment-{i}-{sample.Label}.png"));
}
Console.WriteLine($"Attention maps (every head of layer {options.Depth - 2}) and CrateSegment overlays of {attention.Length} test images: {output}");
return 0;

static void ShowProgress(CrateTrainingProgress p)
{
    const int Width = 30;
    long stepInEpoch = p.IsEpochEnd ? p.StepsPerEpoch : (p.Step - 1) % p.StepsPerEpoch + 1;
    int filled = (int)Math.Round(Width * Math.Min(1.0, stepInEpoch / (double)p.StepsPerEpoch));
    Console.Write($"\repoch {p.Epoch,3} [{new string('#', filled)}{new string('.', Width - filled)}] loss {p.Loss:F3} " +
        $"train acc {p.TrainAccuracy,6:P1} lr {p.LearningRate:G2} {p.ImagesPerSecond,5:F0} img/s ETA {p.EstimatedRemaining:mm\\:ss}   ");
    if (p.IsEpochEnd) Console.WriteLine();
}
