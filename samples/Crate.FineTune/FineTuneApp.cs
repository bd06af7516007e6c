using System.CommandLine;
using System.Text.Json;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Datasets;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Spectre.Console;

namespace Crate.Samples.FineTune;

/// <summary>
/// Fine-tunes a saved or imported CRATE (a Crate.MLNet model file, a saved pipeline, or an authors' checkpoint) on a
/// folder-per-class image dataset: a new head for the dataset's classes, optionally a frozen backbone, validation on a
/// folder or a stratified split, early stopping, checkpoints and resumption; prints and saves the validation confusion
/// matrix and saves the fine-tuned pipeline.
/// </summary>
public static class FineTuneApp
{
    /// <summary>Runs the sample on command-line <paramref name="args"/>, writing to <paramref name="console"/>; returns the exit code.</summary>
    public static int Run(string[] args, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Training images, one folder per class (<data>/<class>/<image>). Default: embedded images of four classes " +
                "the default model has not seen, written to <output>/data.",
        }.AcceptExistingOnly();
        var validation = new Option<DirectoryInfo>("--validation")
        {
            Description = "Validation images, one folder per class. Default: a stratified split of --data (see --validation-fraction).",
        }.AcceptExistingOnly();
        var validationFraction = new Option<double>("--validation-fraction")
        {
            Description = "Share of each class held out for validation when --validation is not given (rounded up, seeded by --seed).",
            DefaultValueFactory = _ => 0.2,
        };
        var model = new Option<FileInfo>("--model")
        {
            Description = "The network to start from: a Crate.MLNet model file (.safetensors), a saved pipeline (.zip) or an authors' " +
                "checkpoint (.pth, needs --heads); the format is read from the content. Default: a small CRATE pretrained on the embedded " +
                "dataset, saved as <output>/pretrained.safetensors and reused by later runs.",
        }.AcceptExistingOnly();
        var heads = new Option<int?>("--heads") { Description = "Heads of an authors' checkpoint (not recorded in it): 6 for CRATE-T, 12 for S and B, 16 for L." };
        var freeze = new Option<bool>("--freeze-backbone") { Description = "Train only the new head; the backbone keeps the loaded weights." };
        var epochs = new Option<int>("--epochs") { Description = "Most fine-tuning epochs.", DefaultValueFactory = _ => 10 };
        var patience = new Option<int>("--patience")
        {
            Description = "Stop after this many epochs without a better validation accuracy; the best epoch's weights are kept.",
            DefaultValueFactory = _ => 3,
        };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per optimizer step.", DefaultValueFactory = _ => 32 };
        var learningRate = new Option<double>("--learning-rate")
        {
            Description = "Peak AdamW learning rate (one warm-up epoch, then cosine). Use about 5e-5 for the authors' CRATE-B.",
            DefaultValueFactory = _ => 1e-3,
        };
        var imageSize = new Option<int?>("--image-size")
        {
            Description = "Square training size in pixels, a multiple of the patch size (positions are resized). Default: the model's training size.",
        };
        var checkpoints = new Option<DirectoryInfo>("--checkpoints") { Description = "Where a checkpoint is written after every epoch. Default: <output>/checkpoints." };
        var resume = new Option<FileInfo>("--resume")
        {
            Description = "Continue the run saved in this checkpoint (give the same other options as the run that wrote it).",
        }.AcceptExistingOnly();
        var output = new Option<DirectoryInfo>("--output")
        {
            Description = "Where fine-tuned.zip (the pipeline), metrics.json, checkpoints and the default data and model go.",
            DefaultValueFactory = _ => new DirectoryInfo("crate-finetune-output"),
        };
        var device = new Option<ComputeDevice>("--device") { Description = "Where the network trains.", DefaultValueFactory = _ => ComputeDevice.Auto };
        var seed = new Option<int>("--seed") { Description = "Seed of the split, the new head, shuffling and augmentation.", DefaultValueFactory = _ => 0 };
        var imagesPerClass = new Option<int>("--images-per-class") { Description = "Embedded images per class when --data is not given.", DefaultValueFactory = _ => 150 };
        var pretrainImages = new Option<int>("--pretrain-images") { Description = "Embedded images the default model is pretrained on.", DefaultValueFactory = _ => 3000 };
        var pretrainEpochs = new Option<int>("--pretrain-epochs") { Description = "Epochs of the default model's pretraining.", DefaultValueFactory = _ => 12 };
        var command = new RootCommand("Fine-tune a saved or imported CRATE on your own folder-per-class images, with validation, early stopping, checkpoints and resumption.")
        {
            data, validation, validationFraction, model, heads, freeze, epochs, patience, batchSize, learningRate, imageSize, checkpoints, resume,
            output, device, seed, imagesPerClass, pretrainImages, pretrainEpochs,
        };
        command.SetAction(parsed => SampleErrors.Report(console, () => FineTune(console, new Settings(
            parsed.GetValue(data), parsed.GetValue(validation), parsed.GetValue(validationFraction), parsed.GetValue(model), parsed.GetValue(heads),
            parsed.GetValue(freeze), parsed.GetValue(epochs), parsed.GetValue(patience), parsed.GetValue(batchSize), parsed.GetValue(learningRate),
            parsed.GetValue(imageSize), parsed.GetValue(checkpoints), parsed.GetValue(resume), parsed.GetRequiredValue(output), parsed.GetValue(device),
            parsed.GetValue(seed), parsed.GetValue(imagesPerClass), parsed.GetValue(pretrainImages), parsed.GetValue(pretrainEpochs)))));
        return command.Parse(args).Invoke(new InvocationConfiguration { Output = console.Profile.Out.Writer, Error = console.Profile.Out.Writer });
    }

    private sealed record Settings(DirectoryInfo? Data, DirectoryInfo? Validation, double ValidationFraction, FileInfo? Model, int? Heads,
        bool FreezeBackbone, int Epochs, int Patience, int BatchSize, double LearningRate, int? ImageSize, DirectoryInfo? Checkpoints,
        FileInfo? Resume, DirectoryInfo Output, ComputeDevice Device, int Seed, int ImagesPerClass, int PretrainImages, int PretrainEpochs);

    /// <summary>The column the split reads: which file a row is.</summary>
    private sealed class ImageFile
    {
        public string ImagePath { get; set; } = "";
    }

    private static int FineTune(IAnsiConsole console, Settings settings)
    {
        if (settings.Validation is null && settings.ValidationFraction is not (> 0 and < 1))
            throw new ArgumentException($"--validation-fraction is {settings.ValidationFraction}; it must lie between 0 and 1 (or give --validation).");
        var context = new MLContext(seed: settings.Seed);
        ConsoleTraining.ShowLog(context, console);
        string output = settings.Output.FullName;
        Directory.CreateDirectory(output);

        string modelPath = settings.Model?.FullName ?? PretrainedEmbeddedModel(context, console, settings, output);
        CheckpointImportOptions? import = settings.Heads is int k ? new CheckpointImportOptions { Heads = k } : null;
        CrateArchitecture start = CrateNetworkFile.ReadArchitecture(modelPath, import);
        string shape = $"d {start.EmbeddingDim}, {start.Depth} layers of {start.Heads} heads, patch {start.PatchSize}, " +
            $"{start.ClassCount} classes at {start.ImageHeight}×{start.ImageWidth}";
        console.MarkupLineInterpolated($"Starting from {CrateNetworkFile.DetectFormat(modelPath)} [blue]{modelPath}[/]: {shape}.");

        string dataFolder = settings.Data?.FullName ?? WriteEmbeddedData(console, settings, output);
        IDataView all = context.Data.LoadClassificationFolder(dataFolder);
        (IDataView train, IDataView held, string how) = settings.Validation is DirectoryInfo folder
            ? (all, context.Data.LoadClassificationFolder(folder.FullName), $"the folder {folder.FullName}")
            : Split(context, all, settings.ValidationFraction, settings.Seed);
        string[] trainLabels = Labels(train);
        string[] classes = trainLabels.Distinct().Order(StringComparer.Ordinal).ToArray();
        string[] validationLabels = Labels(held);
        string? unknown = validationLabels.FirstOrDefault(l => Array.BinarySearch(classes, l, StringComparer.Ordinal) < 0);
        if (unknown is not null) throw new InvalidDataException($"The validation images have class '{unknown}', which the training images lack.");
        console.WriteLine($"{trainLabels.Length} training and {validationLabels.Length} validation images ({how}) of {classes.Length} classes: {string.Join(", ", classes)}.");

        // The label keys in class-name order, the same for training, validation and the saved pipeline.
        var toKeys = context.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        var options = new CrateTrainerOptions
        {
            ModelSize = CrateModelSize.Custom, EmbeddingDim = start.EmbeddingDim, Depth = start.Depth, Heads = start.Heads, HeadDim = start.HeadDim,
            PatchSize = start.PatchSize, Variant = start.Variant, Pooling = start.Pooling,
            ImageHeight = settings.ImageSize ?? start.ImageHeight, ImageWidth = settings.ImageSize ?? start.ImageWidth,
            InitialWeightsPath = modelPath, InitialWeightsHeads = settings.Heads, FreezeBackbone = settings.FreezeBackbone,
            Epochs = settings.Epochs, BatchSize = settings.BatchSize, Optimizer = CrateOptimizerKind.AdamW, LearningRate = settings.LearningRate,
            WarmupEpochs = 1, Schedule = ScheduleGranularity.PerStep, RandomResizedCrop = false, Seed = settings.Seed, Device = settings.Device,
            ValidationSet = toKeys.Fit(train).Transform(held), EarlyStoppingPatience = settings.Patience,
            CheckpointDirectory = settings.Checkpoints?.FullName ?? Path.Combine(output, "checkpoints"), ResumeFrom = settings.Resume?.FullName,
            LogEverySteps = 10,
        };
        ITransformer tuned = ConsoleTraining.Train(console, "Fine-tuning", options, () => toKeys
            .Append(context.MulticlassClassification.Trainers.Crate(options))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(train));
        using (tuned as IDisposable)
        {
            IDataView scored = tuned.Transform(held);
            MulticlassClassificationMetrics metrics = context.MulticlassClassification.Evaluate(scored);
            // The confusion matrix's rows and columns follow the label keys.
            VBuffer<ReadOnlyMemory<char>> keys = default;
            scored.Schema["Label"].GetKeyValues(ref keys);
            classes = keys.DenseValues().Select(k => k.ToString()).ToArray();
            console.WriteLine($"Validation accuracy {metrics.MicroAccuracy:P1} (macro {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3}) " +
                $"on {validationLabels.Length} images; rows are the true classes, in the order {string.Join(", ", classes)}:");
            // Written as it is: the table is laid out already, and wrapping at the console's width would break it.
            console.Profile.Out.Writer.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

            string modelFile = Path.Combine(output, "fine-tuned.zip");
            CratePipelineFile.Save(context, tuned, train.Schema, modelFile);
            string metricsFile = Path.Combine(output, "metrics.json");
            File.WriteAllText(metricsFile, JsonSerializer.Serialize(new ValidationMetrics(validationLabels.Length, metrics.MicroAccuracy,
                metrics.MacroAccuracy, classes, metrics.ConfusionMatrix.Counts.Select(r => r.Select(c => (long)c).ToArray()).ToArray()), JsonOptions));
            console.WriteLine($"Fine-tuned pipeline: {modelFile} (CratePipelineFile.Load; Crate.SegmentImages takes it as --model). Metrics: {metricsFile}.");
            console.WriteLine($"Checkpoints: {options.CheckpointDirectory} (continue a run with --resume <checkpoint>).");
        }
        return 0;
    }

    /// <summary>What metrics.json holds: the validation confusion matrix (rows true classes, columns predicted) and accuracies.</summary>
    private sealed record ValidationMetrics(int ValidationImages, double MicroAccuracy, double MacroAccuracy, string[] Classes, long[][] ConfusionMatrix);

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static string[] Labels(IDataView data) => data.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();

    /// <summary>
    /// Holds out ⌈fraction · n⌉ images of each class of n (at least one image of each class stays for training), drawn by
    /// a shuffle seeded with <paramref name="seed"/>; both parts keep the folder's order.
    /// </summary>
    private static (IDataView Train, IDataView Validation, string How) Split(MLContext context, IDataView all, double fraction, int seed)
    {
        string[] paths = all.GetColumn<ReadOnlyMemory<char>>("ImagePath").Select(p => p.ToString()).ToArray();
        string[] labels = Labels(all);
        var random = new Random(seed);
        var heldOut = new HashSet<string>(StringComparer.Ordinal);
        foreach (IGrouping<string, string> members in paths.Zip(labels).GroupBy(p => p.Second, p => p.First))
        {
            string[] shuffled = members.ToArray();
            random.Shuffle(shuffled);
            int count = Math.Min((int)Math.Ceiling(fraction * shuffled.Length), shuffled.Length - 1);
            heldOut.UnionWith(shuffled.Take(count));
        }
        IDataView train = context.Data.FilterByCustomPredicate<ImageFile>(all, row => heldOut.Contains(row.ImagePath));
        IDataView validation = context.Data.FilterByCustomPredicate<ImageFile>(all, row => !heldOut.Contains(row.ImagePath));
        return (train, validation, $"{fraction:P0} of each class held out");
    }

    private static string PretrainedEmbeddedModel(MLContext context, IAnsiConsole console, Settings settings, string output)
    {
        string path = Path.Combine(output, "pretrained.safetensors");
        if (File.Exists(path))
        {
            console.WriteLine($"No --model: reusing {path}, pretrained by an earlier run (delete it to pretrain again).");
            return path;
        }
        // The default classes (disc and cross × stripes and dots), at patch 8: the quickstart's recipe.
        var data = new ShapesDatasetOptions { Count = settings.PretrainImages, Seed = 1 };
        CrateTrainerOptions options = SmallCrate.Options(settings.PretrainEpochs, patchSize: 8, settings.Device);
        console.WriteLine($"No --model: pretraining a small CRATE for {settings.PretrainEpochs} epoch(s) on {settings.PretrainImages} embedded images " +
            $"of {string.Join(", ", ShapesDataset.ClassNames(data))}.");
        using TransformerChain<CrateClassifierTransformer> trained = ConsoleTraining.Train(console, "Pretraining", options,
            () => context.Transforms.Conversion.MapValueToKey("Label")
                .Append(context.MulticlassClassification.Trainers.Crate(options))
                .Fit(ShapesDataset.LoadDataView(context, data)));
        CrateModelFile.Save(trained.LastTransformer.Model, path);
        console.WriteLine($"Saved {path}.");
        return path;
    }

    private static string WriteEmbeddedData(IAnsiConsole console, Settings settings, string output)
    {
        // Classes the default model has not seen: other outlines, and a texture of their own.
        var data = new ShapesDatasetOptions
        {
            Count = 4 * settings.ImagesPerClass, Seed = 3, Shapes = [ShapeFamily.Square, ShapeFamily.Triangle], Textures = [ShapeTexture.Stripes, ShapeTexture.Checker],
        };
        string root = Path.Combine(output, "data");
        // Written afresh each run (the same seed gives the same images), so nothing of an earlier run is left behind.
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        ShapesDataset.WriteFolder(data, root);
        console.WriteLine($"No --data: {data.Count} embedded images of {string.Join(", ", ShapesDataset.ClassNames(data))} written to {root}.");
        return Path.Combine(root, ShapesDataset.ImagesFolder);
    }
}
