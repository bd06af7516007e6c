using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Crate.Emergence;

/// <summary>A network the report shows pictures of: seed 0 of each variant, or each given model.</summary>
/// <param name="Name">Its name in the report.</param>
/// <param name="Network">The network (owned by the run, disposed with it).</param>
/// <param name="Layers">Its measured layers (to pick the best head of the layer shown).</param>
public sealed record ShowcaseModel(string Name, CrateModel Network, IReadOnlyList<LayerResult> Layers);

/// <summary>What a run leaves: the numbers, and the networks to draw.</summary>
/// <param name="Result">The numbers.</param>
/// <param name="Showcase">One network per model row, for the pictures.</param>
/// <param name="Data">The evaluation data.</param>
/// <param name="Pictures">Evaluation images to draw read-outs of.</param>
/// <param name="PcaImages">Images of one class (Appendix B.2 fits PCA on one class), for the PCA picture.</param>
public sealed record ExperimentRun(ExperimentResult Result, IReadOnlyList<ShowcaseModel> Showcase, PictureSet Pictures, PictureSet PcaImages)
    : IDisposable
{
    /// <summary>Frees the networks.</summary>
    public void Dispose()
    {
        foreach (ShowcaseModel model in Showcase) model.Network.Dispose();
    }
}

/// <summary>
/// The experiment: trains every variant with every seed under one recipe on the embedded single-object images, then
/// measures each layer of each network on the multi-object scenes (<see cref="LayerwiseEvaluator"/>); or measures given
/// networks on a given dataset. Console display and report writing are elsewhere.
/// </summary>
public sealed class Experiment(MLContext context, IExperimentProgress progress)
{
    /// <summary>Trains and measures the models of <paramref name="settings"/>; model files are written to <paramref name="modelDirectory"/> when given.</summary>
    public ExperimentRun RunEmbedded(ExperimentSettings settings, string? modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var clock = Stopwatch.StartNew();
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        double loadStart = MachineInfo.LoadAverage();
        DateTimeOffset started = DateTimeOffset.UtcNow;

        TrainingRecipe recipe = settings.Recipe;
        SceneDatasetOptions data = settings.Data;
        IReadOnlyList<string> classes = SceneDataset.ClassNames(data);
        IDataView training = SceneDataset.LoadTrainingDataView(context, data with { Count = recipe.TrainingImages, Seed = settings.TrainingDataSeed });
        IDataView test = SceneDataset.LoadTrainingDataView(context, data with { Count = settings.TestImages, Seed = settings.TestDataSeed });
        EvaluationData scenes = EvaluationData.Scenes(context, data with { Count = settings.EvaluationScenes, Seed = settings.SceneDataSeed });
        var evaluator = new LayerwiseEvaluator(context, scenes, settings.Measurement);

        IReadOnlyList<CrateInitialization> initializations = settings.Initializations ?? [recipe.Initialization];
        int perRun = recipe.Epochs + 1 + (settings.EvaluateEveryEpoch ? recipe.Epochs : 0) + (settings.MeasureUntrained ? 2 : 0);
        progress.Planned(initializations.Count * settings.Variants.Count * settings.Seeds.Count * perRun);
        var results = new List<ModelResult>();
        var untrained = new List<ModelResult>();
        var showcase = new List<ShowcaseModel>();
        IDataView floorTraining = SceneDataset.LoadTrainingDataView(context, data with { Count = recipe.BatchSize, Seed = settings.TrainingDataSeed });
        foreach (CrateInitialization initialization in initializations)
        {
            TrainingRecipe under = recipe with { Initialization = initialization };
            // The untrained floor: the same network (variant, seed, initialisation) after one step at a learning rate of
            // 1e-12 on one batch, measured the same way.
            TrainingRecipe floorRecipe = under with { LearningRate = 1e-12, TrainingImages = recipe.BatchSize, Epochs = 1, WarmupEpochs = 0 };
            foreach (CrateVariant variant in settings.Variants)
                foreach (int seed in settings.Seeds)
                {
                    // Rows are named by their initialisation when the run compares several.
                    string name = ModelNames.Of(variant) + (initializations.Count > 1 ? $" ({initialization})" : "");
                    (ModelResult trained, CrateModel network) = TrainAndMeasure(settings, under, name, ModelRole.Trained, variant, seed, training, test, evaluator, modelDirectory);
                    results.Add(trained);
                    if (seed == settings.Seeds[0]) showcase.Add(new ShowcaseModel(trained.Model, network, trained.Layers));
                    else network.Dispose();
                    if (!settings.MeasureUntrained) continue;
                    (ModelResult floor, CrateModel floorNetwork) = TrainAndMeasure(settings with { EvaluateEveryEpoch = false }, floorRecipe, ModelNames.Untrained(name),
                        ModelRole.Untrained, variant, seed, floorTraining, test, evaluator, null);
                    floorNetwork.Dispose();
                    untrained.Add(floor);
                }
        }
        results.AddRange(untrained);
        if (showcase.Count > 0) results.AddRange(evaluator.Controls(showcase[0].Network.Architecture));

        // Appendix B.2 fits the PCA on images of one class: held-out images of the first class.
        var pcaOptions = data with { Count = settings.PictureImages * classes.Count, Seed = settings.TestDataSeed };
        SceneSample[] pcaSamples = Enumerable.Range(0, settings.PictureImages).Select(i => SceneDataset.TrainingImage(pcaOptions, i * classes.Count)).ToArray();
        PictureSet pcaImages = PictureSet.FromPixels(context, pcaSamples.Select(Pixels).ToArray(), pcaSamples.Select(s => s.Label).ToArray());
        PictureSet pictures = PictureSet.FirstOf(context, scenes.View, settings.PictureImages, i => $"scene {i + 1}");

        string recipeText = recipe.Describe() + (initializations.Count > 1
            ? $"; every model under each of the initialisations {string.Join(", ", initializations)} (rows named by it)" : "");
        var result = new ExperimentResult("Embedded scenes", scenes.Description, recipeText, Describe(settings.Measurement), scenes.ClassCount,
            1.0 / classes.Count, results, MachineInfo.Describe(), started, clock.Elapsed.TotalSeconds,
            (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds, loadStart, MachineInfo.LoadAverage());
        return new ExperimentRun(result, showcase, pictures, pcaImages);
    }

    /// <summary>
    /// Measures given networks on <paramref name="data"/>; the networks become the run's (disposed with it).
    /// <paramref name="readouts"/>, when given, supplies each model's (by index) read-outs of each layer in place of the
    /// network's: a merge of shards (<see cref="EmergenceShards"/>).
    /// </summary>
    public ExperimentRun RunGiven(IReadOnlyList<(string Name, CrateModel Network)> models, EvaluationData data, MeasurementSettings measurement, int pictureImages,
        Func<int, int, LayerReadouts>? readouts = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(data);
        var clock = Stopwatch.StartNew();
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        double loadStart = MachineInfo.LoadAverage();
        DateTimeOffset started = DateTimeOffset.UtcNow;
        var evaluator = new LayerwiseEvaluator(context, data, measurement);
        progress.Planned(models.Count);
        var results = new List<ModelResult>();
        var showcase = new List<ShowcaseModel>();
        foreach (((string name, CrateModel network), int index) in models.Select((m, i) => (m, i)))
        {
            progress.Stage(name, null, "measuring");
            var timer = Stopwatch.StartNew();
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            IReadOnlyList<LayerResult> layers = evaluator.Evaluate(network, layer => progress.Stage(name, null, $"measured layer {layer + 1}"),
                readouts is null ? null : layer => readouts(index, layer));
            CrateVariant variant = network.Architecture.Variant;
            var result = new ModelResult(name, ModelNames.Attention(variant), ModelNames.Nonlinearity(variant), null, null, null, null, 0, 0,
                timer.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, layers, null, ModelRole.Given);
            results.Add(result);
            showcase.Add(new ShowcaseModel(name, network, layers));
            progress.Advance();
        }
        if (showcase.Count > 0) results.AddRange(evaluator.Controls(showcase[0].Network.Architecture));
        PictureSet pictures = PictureSet.FirstOf(context, data.View, pictureImages, i => $"image {i + 1}");
        var summary = new ExperimentResult(data.Title, data.Description, null, Describe(measurement), data.ClassCount, null, results, MachineInfo.Describe(),
            started, clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds, loadStart, MachineInfo.LoadAverage());
        return new ExperimentRun(summary, showcase, pictures, pictures);
    }

    private (ModelResult Result, CrateModel Network) TrainAndMeasure(ExperimentSettings settings, TrainingRecipe recipe, string name, ModelRole role,
        CrateVariant variant, int seed, IDataView training, IDataView test, LayerwiseEvaluator evaluator, string? modelDirectory)
    {
        string? checkpoints = settings.EvaluateEveryEpoch ? Directory.CreateTempSubdirectory($"crate-emergence-{name}-{seed}-").FullName : null;
        try
        {
            CrateTrainerOptions options = recipe.ToTrainerOptions(variant, seed, settings.Data.ImageHeight, settings.Device);
            options.NumberOfThreads = settings.TrainingThreads;
            options.CheckpointDirectory = checkpoints;
            options.LogEverySteps = 10;
            double? lastLoss = null, lastAccuracy = null;
            options.Progress = p =>
            {
                progress.Training(name, seed, recipe.Epochs, p);
                if (!p.IsEpochEnd) return;
                (lastLoss, lastAccuracy) = (p.Loss, p.TrainAccuracy);
                progress.Advance();
            };
            progress.Stage(name, seed, "training");
            var timer = Stopwatch.StartNew();
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var keys = context.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(training);
            IDataView keyedTraining = keys.Transform(training), keyedTest = keys.Transform(test);
            using CrateClassifierTransformer classifier = context.MulticlassClassification.Trainers.Crate(options).Fit(keyedTraining);
            double trainingSeconds = timer.Elapsed.TotalSeconds, trainingCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;

            progress.Stage(name, seed, "measuring");
            timer.Restart();
            cpu = Process.GetCurrentProcess().TotalProcessorTime;
            double accuracy = Accuracy(classifier, keyedTest);
            CrateModel network = classifier.Model;
            IReadOnlyList<LayerResult> layers = evaluator.Evaluate(network, layer => progress.Stage(name, seed, $"measured layer {layer + 1}"));
            progress.Advance();

            List<EpochResult>? epochs = null;
            if (checkpoints is not null)
            {
                epochs = [];
                foreach ((int epoch, string path) in CrateTrainingCheckpoint.EpochCheckpoints(checkpoints))
                {
                    progress.Stage(name, seed, $"measuring epoch {epoch}");
                    using CrateModel atEpoch = CrateTrainingCheckpoint.LoadModel(path);
                    using var epochClassifier = new CrateClassifierTransformer(atEpoch, classifier.Settings);
                    epochs.Add(new EpochResult(epoch, Accuracy(epochClassifier, keyedTest), evaluator.Evaluate(atEpoch)));
                    progress.Advance();
                }
            }
            if (modelDirectory is not null)
                Crate.Transforms.Checkpoints.CrateModelFile.Save(network, Path.Combine(Directory.CreateDirectory(modelDirectory).FullName, $"{FileSafe(name)}-seed{seed}.safetensors"));
            var result = new ModelResult(name, ModelNames.Attention(variant), ModelNames.Nonlinearity(variant), seed, accuracy, lastLoss, lastAccuracy,
                trainingSeconds, trainingCpuSeconds, timer.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, layers, epochs, role);
            progress.Note($"{name} seed {seed}: test accuracy {accuracy:P1} (training {lastAccuracy:P1}, loss {lastLoss:F3}) after {trainingSeconds:F0} s ({trainingCpuSeconds:F0} s CPU); " +
                $"last layer eq. 13 mIoU {layers[^1].BestHeadMeanIoU:P1}, MaskCut box AP50 {layers[^1].Boxes.AP50:P1}");
            // The classifier frees the network it trained: keep a copy for the pictures.
            return (result, Copy(network));
        }
        finally
        {
            if (checkpoints is not null) Directory.Delete(checkpoints, recursive: true);
        }
    }

    private static string FileSafe(string name) => string.Concat(name.Where(c => c is not ('(' or ')')).Select(c => c == ' ' ? '-' : c));

    private double Accuracy(ITransformer classifier, IDataView keyedTest) =>
        context.MulticlassClassification.Evaluate(classifier.Transform(keyedTest)).MicroAccuracy;

    private static CrateModel Copy(CrateModel network)
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-emergence-{Guid.NewGuid():N}.safetensors");
        try
        {
            Crate.Transforms.Checkpoints.CrateModelFile.Save(network, path);
            return Crate.Transforms.Checkpoints.CrateModelFile.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Crate.Transforms.MLNet.ImagePixels Pixels(SceneSample sample)
    {
        using MLImage image = SceneDataset.ToImage(sample);
        return Crate.Transforms.MLNet.ImageColumn.FromImage(image, "Image", sample.Index);
    }

    /// <summary>The measurement settings in words, for the report.</summary>
    public static string Describe(MeasurementSettings measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        string rule = measurement.Rule == Crate.Transforms.Segmentation.MaskRule.TopFraction
            ? $"top {measurement.Fraction:P0} of each map's entries (Appendix B.3)"
            : $"the largest entries holding {measurement.Fraction:P0} of each map's mass (DINO)";
        string other = measurement.Rule == Crate.Transforms.Segmentation.MaskRule.TopFraction
            ? $"the largest entries holding {measurement.Fraction:P0} of each map's mass (DINO)"
            : $"top {measurement.Fraction:P0} of each map's entries (Appendix B.3)";
        return $"attention masks: {rule}; beside it, the other rule: {other}; MaskCut: n = {measurement.Cut.MaxObjects}, τ = {measurement.Cut.AffinityThreshold:G3}, no CRF, " +
            $"class-agnostic COCO AP; network input {(measurement.InputSize is int s ? $"{s}×{s}" : "at each model's training size")}";
    }
}
