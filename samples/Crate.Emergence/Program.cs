// The paper's experiments as one command: trains CRATE, ViT, CRATE-MHSA and CRATE-MLP under one recipe and several
// seeds on the embedded data, measures every layer of every model (accuracy; eq. 13-14 mIoU, the merged mask's IoU and
// VOC mIoU from [CLS] attention; MaskCut COCO AP), and writes report.md with tables shaped like Tables 1 and 2 and the
// pictures of Figures 1/3/4/5/6/7/10/14. With --voc or --coco and --model, measures given models on real data instead.
// Run with --help for the options.
using System.CommandLine;
using Crate.Emergence;
using Crate.Trainers;
using Crate.Transforms;
using Crate.Transforms.Segmentation;
using Spectre.Console;

var quick = new Option<bool>("--quick") { Description = "A small run: 2 seeds, 31 training steps, fewer images. Checks the wiring, not the science." };
var longRun = new Option<bool>("--long") { Description = "The long run (at most 90 minutes on 2 CPU cores): the miniature in which the classifiers are well trained, CRATE and ViT under two initialisations, 3 seeds (docs/emergence.md)." };
var output = new Option<DirectoryInfo>("--output", "-o") { Description = "The report folder.", DefaultValueFactory = _ => new DirectoryInfo("crate-emergence-report") };
var seeds = new Option<int[]>("--seeds") { Description = "Training seeds [default: 0 1 2; --quick: 0 1].", AllowMultipleArgumentsPerToken = true };
var variants = new Option<string[]>("--variants") { Description = "Models to train: Crate ViT CrateMhsa CrateMlp CrateSoftThreshold [default: the first four].", AllowMultipleArgumentsPerToken = true };
var epochsEval = new Option<bool>("--epochs-eval") { Description = "Also measure every epoch's checkpoint (Figure 10)." };
var epochs = new Option<int?>("--epochs") { Description = "Training epochs [default: 3; --quick: 2]." };
var trainImages = new Option<int?>("--train-images") { Description = "Training images [default: 6000; --quick: 1000]." };
var learningRate = new Option<double?>("--lr") { Description = "Peak learning rate [default: 2e-3]." };
var optimizer = new Option<CrateOptimizerKind?>("--optimizer") { Description = "AdamW or Lion [default: AdamW]." };
var weightDecay = new Option<double?>("--weight-decay") { Description = "Weight decay [default: 0.05]." };
var warmup = new Option<int?>("--warmup") { Description = "Warm-up epochs [default: 1]." };
var batchSize = new Option<int?>("--batch-size") { Description = "Images per step [default: 64]." };
var dim = new Option<int?>("--dim") { Description = "Token width d [default: 64]." };
var depth = new Option<int?>("--depth") { Description = "Layers [default: 4]." };
var heads = new Option<int?>("--heads") { Description = "Heads K (head width d / K) [default: 4]." };
var patch = new Option<int?>("--patch") { Description = "Patch side in pixels [default: 4]." };
var imageSize = new Option<int?>("--image-size") { Description = "Side of the embedded images in pixels [default: 48]." };
var radius = new Option<double[]>("--radius") { Description = "Object radius range in pixels, LOW HIGH [default: 10 18].", AllowMultipleArgumentsPerToken = true };
var shapes = new Option<Crate.Trainers.Data.ShapeFamily[]>("--shapes") { Description = "Object outlines [default: Disc Square Triangle Cross].", AllowMultipleArgumentsPerToken = true };
var textureCell = new Option<double?>("--texture-cell") { Description = "Side of a texture cell in pixels (a stripe's width, a checker square) [default: 4]." };
var noise = new Option<double?>("--noise") { Description = "Largest change of the pixel noise over the whole image, per channel in [0, 1] [default: 0.03]." };
var textures = new Option<Crate.Trainers.Data.ShapeTexture[]>("--textures") { Description = "Object textures [default: Stripes Dots]; classes are outline × texture.", AllowMultipleArgumentsPerToken = true };
var initialization = new Option<CrateInitialization[]>("--initialization") { Description = "Orthogonal, OrthogonalAllBlocks (also ViT's attention and MLP matrices orthogonal) or Reference (PyTorch's defaults, the authors' code); several train every model under each [default: Orthogonal].", AllowMultipleArgumentsPerToken = true };
var crops = new Option<bool>("--crops") { Description = "RandomResizedCrop (scale ≥ 0.35) on training images [default: off]." };
var testImages = new Option<int?>("--test-images") { Description = "Held-out images for accuracy [default: 600; --quick: 200]." };
var scenes = new Option<int?>("--scenes") { Description = "Evaluation scenes [default: 200; --quick: 40]." };
var pictures = new Option<int?>("--pictures") { Description = "Images per picture, the first of the evaluation data in order [default: 8; --quick: 4]." };
var rule = new Option<MaskRule>("--rule") { Description = "How attention maps are thresholded: TopFraction (the paper's) or CumulativeMass (DINO's).", DefaultValueFactory = _ => MaskRule.TopFraction };
var fraction = new Option<double>("--fraction") { Description = "P of the thresholding rule.", DefaultValueFactory = _ => 0.6 };
var device = new Option<ComputeDevice>("--device") { Description = "Cpu, Cuda or Auto.", DefaultValueFactory = _ => ComputeDevice.Auto };
var threads = new Option<int?>("--threads") { Description = "CPU threads: TorchSharp's for measuring, and the trainer's NumberOfThreads (shards of each batch) for training [default: TorchSharp's and the processor count]." };
var voc = new Option<DirectoryInfo?>("--voc") { Description = "Measure the --model files on this PASCAL VOC 2012 folder (VOC2012, or a VOCdevkit holding it) instead of training." };
var vocSplit = new Option<string>("--voc-split") { Description = "The VOC split.", DefaultValueFactory = _ => "val" };
var coco = new Option<DirectoryInfo?>("--coco") { Description = "Measure the --model files on this COCO folder (annotations/instances_<split>.json, images in <split>/ or images/)." };
var cocoSplit = new Option<string?>("--coco-split") { Description = "The COCO split (val2017); needed when annotations/ holds several instances files." };
var models = new Option<FileInfo[]>("--model") { Description = "Models to measure on --voc or --coco: .safetensors (CrateModelFile), .zip (CratePipelineFile), or .pth/.pt (the authors' checkpoints; give --checkpoint-heads).", AllowMultipleArgumentsPerToken = true };
var checkpointHeads = new Option<int?>("--checkpoint-heads") { Description = "Heads K of the authors' checkpoints (their shapes do not fix K): 12 for CRATE-S/B, 6 for the B/8 demo model." };
var inputSize = new Option<int?>("--input-size") { Description = "Network input side for the read-outs [default: the model's training size; 480 with --voc/--coco, as DINO and CutLER]." };
var maxImages = new Option<int?>("--max-images") { Description = "Measure only the first N images of --voc or --coco." };
var layers = new Option<int[]>("--layers") { Description = "Layers to measure, 1-based [default: all].", AllowMultipleArgumentsPerToken = true };
var shardIndex = new Option<int?>("--shard-index") { Description = "With --voc/--coco and --shard-count: measure only this shard (0-based) of the images, into --output; merge the shards with --merge (docs/scaling.md)." };
var shardCount = new Option<int?>("--shard-count") { Description = "The number of shards N: an image is in shard FNV-1a-64(its name) mod N." };
var merge = new Option<DirectoryInfo[]>("--merge") { Description = "With --voc/--coco and the shards' --model and options: merge these shard folders into the single run's report.", AllowMultipleArgumentsPerToken = true };
var stopAfter = new Option<int?>("--stop-after") { Description = "A shard stops after this many (model, layer) read-outs with exit code 75 (run it again to resume)." };
var plain = new Option<bool>("--plain") { Description = "Progress as plain lines instead of live bars." };

var root = new RootCommand("""
    CRATE against ViT and the ablations, layer by layer (Yu et al., "Emergence of Segmentation with Minimalistic White-Box Transformers").
    Trains CRATE, ViT, CRATE-MHSA and CRATE-MLP (same depth, width and heads) under one recipe and several seeds on the embedded
    single-object images, then measures every layer of every model on multi-object scenes: classification accuracy; coarse
    segmentation from [CLS] attention (eq. 13-14 best-head mIoU, the merged top-P mask's IoU, VOC mIoU); MaskCut COCO AP, AP50,
    AP75 of boxes and masks. Writes report.md (tables shaped like the paper's Tables 1 and 2), results.json and PNG figures.
    With --voc or --coco and --model, measures given models on real data and writes the same report.
    """)
{
    quick, longRun, output, seeds, variants, epochsEval, epochs, trainImages, learningRate, optimizer, weightDecay, warmup, batchSize, dim, depth, heads,
    patch, imageSize, radius, shapes, textures, textureCell, noise, initialization, crops, testImages, scenes, pictures, rule, fraction, device, threads, voc, vocSplit, coco, cocoSplit, models, checkpointHeads,
    inputSize, maxImages, layers, shardIndex, shardCount, merge, stopAfter, plain,
};

root.SetAction(parsed =>
{
    try
    {
        return Execute(parsed);
    }
    catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or Crate.Transforms.Checkpoints.CheckpointMismatchException)
    {
        // Bad input (a missing file, a wrong option, a corrupt dataset) is the user's to fix: the message names it.
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
});
return root.Parse(args).Invoke();

int Execute(ParseResult parsed)
{
    if (parsed.GetValue(threads) is int n) TorchSharp.torch.set_num_threads(n);
    string directory = parsed.GetValue(output)!.FullName;
    string commandLine = "dotnet run -c Release --project samples/Crate.Emergence -- " + string.Join(' ', args);
    int[]? layerList = parsed.GetValue(layers) is { Length: > 0 } oneBased ? oneBased.Select(l => l - 1).ToArray() : null;
    DirectoryInfo? vocRoot = parsed.GetValue(voc), cocoRoot = parsed.GetValue(coco);
    FileInfo[] given = parsed.GetValue(models) ?? [];
    var measurement = new MeasurementSettings
    {
        Rule = parsed.GetValue(rule), Fraction = parsed.GetValue(fraction), Layers = layerList, Device = parsed.GetValue(device),
        InputSize = parsed.GetValue(inputSize) ?? (vocRoot is null && cocoRoot is null ? null : 480),
    };

    ExperimentResult result;
    DirectoryInfo[] mergeFolders = parsed.GetValue(merge) ?? [];
    int? index = parsed.GetValue(shardIndex), count = parsed.GetValue(shardCount);
    if (index.HasValue != count.HasValue) throw new ArgumentException("Give --shard-index and --shard-count together.");
    if (vocRoot is not null || cocoRoot is not null)
    {
        if (vocRoot is not null && cocoRoot is not null) throw new ArgumentException("Give --voc or --coco, not both.");
        if (given.Length == 0) throw new ArgumentException("--voc and --coco measure given models: name them with --model.");
        if (count.HasValue && mergeFolders.Length > 0) throw new ArgumentException("--merge joins shards: give it without --shard-index/--shard-count.");
        Crate.Transforms.Datasets.ShardPartition? shard = count is int shards ? new Crate.Transforms.Datasets.ShardPartition(index!.Value, shards) : null;
        var context = new Microsoft.ML.MLContext(seed: 0);
        EvaluationData data = vocRoot is not null
            ? EvaluationData.Voc(context, vocRoot.FullName, parsed.GetValue(vocSplit)!, parsed.GetValue(maxImages), shard)
            : EvaluationData.Coco(context, cocoRoot!.FullName, parsed.GetValue(cocoSplit), parsed.GetValue(maxImages), shard);
        var loaded = given.Select(f => GivenModels.Load(f.FullName, parsed.GetValue(checkpointHeads))).ToList();
        string[] modelPaths = given.Select(f => f.FullName).ToArray();
        // What shapes a shard's read-outs, by option name; the dataset is in the manifest by its images' names and ids.
        var shardOptions = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["data"] = data.Title,
            ["--model"] = string.Join(' ', given.Select(f => f.Name)),
            ["--checkpoint-heads"] = parsed.GetValue(checkpointHeads)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default",
            ["--input-size"] = measurement.InputSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default",
            ["--rule"] = measurement.Rule.ToString(),
            ["--fraction"] = measurement.Fraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["--layers"] = layerList is null ? "all" : string.Join(' ', layerList.Select(l => l + 1)),
            ["--max-images"] = parsed.GetValue(maxImages)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "all",
        };
        if (shard is not null)
            return EmergenceShards.RunShard(context, loaded, modelPaths, data, measurement, shardOptions, shard, directory, parsed.GetValue(stopAfter), Console.Out);
        Func<int, int, LayerReadouts>? readouts = mergeFolders.Length == 0 ? null
            : EmergenceShards.Merge(context, loaded, modelPaths, data, measurement, shardOptions, mergeFolders.Select(f => f.FullName).ToArray());
        result = Run(parsed.GetValue(plain), p => EmergenceReport.Given(context, loaded, data, measurement, parsed.GetValue(pictures) ?? 4, directory, p, commandLine, readouts));
    }
    else
    {
        if (given.Length > 0) throw new ArgumentException("--model needs --voc or --coco (the embedded experiment trains its own models).");
        if (count.HasValue || mergeFolders.Length > 0) throw new ArgumentException("--shard-index, --shard-count and --merge need --voc or --coco.");
        if (parsed.GetValue(quick) && parsed.GetValue(longRun)) throw new ArgumentException("Give --quick or --long, not both.");
        ExperimentSettings settings = parsed.GetValue(quick) ? ExperimentSettings.Quick : parsed.GetValue(longRun) ? ExperimentSettings.Long : ExperimentSettings.Default;
        TrainingRecipe recipe = settings.Recipe;
        recipe = recipe with
        {
            Epochs = parsed.GetValue(epochs) ?? recipe.Epochs,
            TrainingImages = parsed.GetValue(trainImages) ?? recipe.TrainingImages,
            LearningRate = parsed.GetValue(learningRate) ?? recipe.LearningRate,
            Optimizer = parsed.GetValue(optimizer) ?? recipe.Optimizer,
            WeightDecay = parsed.GetValue(weightDecay) ?? recipe.WeightDecay,
            WarmupEpochs = parsed.GetValue(warmup) ?? recipe.WarmupEpochs,
            BatchSize = parsed.GetValue(batchSize) ?? recipe.BatchSize,
            EmbeddingDim = parsed.GetValue(dim) ?? recipe.EmbeddingDim,
            Depth = parsed.GetValue(depth) ?? recipe.Depth,
            Heads = parsed.GetValue(heads) ?? recipe.Heads,
            PatchSize = parsed.GetValue(patch) ?? recipe.PatchSize,
            RandomResizedCrop = parsed.GetValue(crops) || recipe.RandomResizedCrop,
            Initialization = parsed.GetValue(initialization) is { Length: > 0 } inits ? inits[0] : recipe.Initialization,
        };
        recipe = recipe with { HeadDim = recipe.EmbeddingDim / recipe.Heads };
        int side = parsed.GetValue(imageSize) ?? settings.Data.ImageHeight;
        Crate.Trainers.Data.SceneDatasetOptions sceneData = settings.Data with { ImageHeight = side, ImageWidth = side };
        if (parsed.GetValue(radius) is { Length: > 0 } r)
            sceneData = r.Length == 2 ? sceneData with { ObjectRadius = (r[0], r[1]) } : throw new ArgumentException("--radius takes two numbers: LOW HIGH.");
        if (parsed.GetValue(shapes) is { Length: > 0 } outlines) sceneData = sceneData with { Shapes = outlines };
        if (parsed.GetValue(textures) is { Length: > 0 } fills) sceneData = sceneData with { Textures = fills };
        if (parsed.GetValue(textureCell) is double cell) sceneData = sceneData with { TextureCell = cell };
        if (parsed.GetValue(noise) is double amplitude) sceneData = sceneData with { PixelNoise = amplitude };
        sceneData.Validate();
        settings = settings with
        {
            Recipe = recipe,
            Seeds = parsed.GetValue(seeds) is { Length: > 0 } s ? s : settings.Seeds,
            Initializations = parsed.GetValue(initialization) is { Length: > 0 } named ? (named.Length > 1 ? named.Distinct().ToArray() : null) : settings.Initializations,
            Variants = parsed.GetValue(variants) is { Length: > 0 } v
                ? v.Select(name => Enum.Parse<Crate.Transforms.Network.CrateVariant>(name, ignoreCase: true)).ToArray() : settings.Variants,
            Data = sceneData,
            TestImages = parsed.GetValue(testImages) ?? settings.TestImages,
            EvaluationScenes = parsed.GetValue(scenes) ?? settings.EvaluationScenes,
            PictureImages = parsed.GetValue(pictures) ?? settings.PictureImages,
            EvaluateEveryEpoch = parsed.GetValue(epochsEval),
            Device = parsed.GetValue(device),
            TrainingThreads = parsed.GetValue(threads),
            Measurement = measurement,
        };
        result = Run(parsed.GetValue(plain), p => EmergenceReport.Embedded(settings, directory, p, commandLine));
    }
    Console.WriteLine($"Report: {Path.Combine(directory, ReportWriter.ReportFile)} ({result.WallSeconds / 60:F1} min wall, {result.CpuSeconds / 60:F1} min CPU)");
    foreach (string line in ReportWriter.Orderings(ModelSummary.Summarise(result.Models), result.ChanceAccuracy))
        Console.WriteLine((line.StartsWith("  - ", StringComparison.Ordinal) ? "" : "- ") + line.Replace("**", ""));
    return 0;
}

// Live bars on an interactive console, plain lines otherwise (or when asked).
static ExperimentResult Run(bool plain, Func<IExperimentProgress, ExperimentResult> work)
{
    if (plain || !AnsiConsole.Profile.Capabilities.Interactive) return work(new LineProgress(Console.Out));
    ExperimentResult? result = null;
    AnsiConsole.Progress()
        .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
            new RemainingTimeColumn(), new SpinnerColumn())
        .Start(display => result = work(new ConsoleProgress(display)));
    return result!;
}
