// The README's main job: make the embedded shapes dataset, train a small CRATE on it in an ordinary ML.NET
// pipeline with a progress bar, report test accuracy, save the model, and write attention and segmentation
// pictures of a few test images: segmentation from a classifier, as the paper claims.
// Usage: dotnet run -c Release --project samples/Crate.Quickstart -- [--device cpu|cuda|auto] [--epochs N]
//        [--train N] [--test N] [--output DIR]
//    or: ... -- --score MODEL.zip [--test N]   (load a saved pipeline and print each test image's scores)
using System.Diagnostics;
using Crate.Samples;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Visualization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Spectre.Console;

var device = ComputeDevice.Auto;
int epochs = 16, trainCount = 4000, testCount = 600;
string output = Path.GetFullPath("crate-quickstart-output");
string? scoreModel = null;
const string Usage = "Usage: [--device cpu|cuda|auto] [--epochs N] [--train N] [--test N] [--output DIR], or --score MODEL.zip [--test N]";
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
        case "--help" or "-h" or "-?":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. {Usage}");
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

// A progress bar and a line per epoch show training; the trainer's notes and the log's warnings are printed.
ConsoleTraining.ShowLog(context, AnsiConsole.Console);
var train = new ShapesDatasetOptions { Count = trainCount, Seed = 1 };
var test = train with { Count = testCount, Seed = 2 };
Console.WriteLine($"Embedded dataset: {trainCount} training and {testCount} test images at 32×32, classes {string.Join(", ", ShapesDataset.ClassNames(train))}");

// A small CRATE (d 64, 4 layers of 4 heads, patch 8): the samples' recipe for the embedded dataset (samples/Shared/SmallCrate.cs).
CrateTrainerOptions options = SmallCrate.Options(epochs, patchSize: 8, device);
var pipeline = context.Transforms.Conversion.MapValueToKey("Label")
    .Append(context.MulticlassClassification.Trainers.Crate(options))
    .Append(context.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
var clock = Stopwatch.StartNew();
IDataView trainData = ShapesDataset.LoadDataView(context, train);
ITransformer model = ConsoleTraining.Train(AnsiConsole.Console, "Training", options, () => pipeline.Fit(trainData));
Console.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F0} s.");

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
bool[][] masks = read.GetColumn<bool[]>("PredictedMask").ToArray();
int grid = 32 / options.PatchSize;
for (int i = 0; i < attention.Length; i++)
{
    ShapesSample sample = ShapesDataset.Sample(picturesOf, i);
    using MLImage picture = ShapesDataset.ToImage(sample);
    ImagePixels pixels = ImageColumn.FromImage(picture, "Image", i);
    // Each head's tile captioned, the layer named, and a colour bar from a head's lowest to its highest attention.
    using MLImage heads = SegmentationPictures.LabelledHeadGrid(pixels, attention[i], options.Heads, grid, grid, layer: options.Depth - 2,
        columns: options.Heads, scale: 8);
    heads.Save(Path.Combine(output, $"attention-{i}-{sample.Label}.png"));
    using MLImage overlay = SegmentationPictures.MaskOverlay(pixels, masks[i], grid, grid, scale: 8);
    overlay.Save(Path.Combine(output, $"segment-{i}-{sample.Label}.png"));
}
Console.WriteLine($"Attention maps (every head of layer {options.Depth - 2}) and CrateSegment overlays of {attention.Length} test images: {output}");
return 0;
