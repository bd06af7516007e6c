using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Trainers.Optimization;
using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Microsoft.ML;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>
/// The runs behind docs/emergence.md, "Getting CRATE off the plateau": one training run per call, described by
/// key=value settings, printing each epoch's training loss, training accuracy and held-out accuracy; or with
/// --plateau-probe, a hand-written training loop that prints, at chosen steps, each block's gradient norm on a
/// fixed probe batch and where the [CLS] token attends (its attention on the object's patches against their share).
/// Defaults are the issue's recipe on SceneDataset's default training images: d 64 (width), 4 layers (depth) of 4
/// heads of 16 (heads, headdim), patch 4 at 48×48 (size; radius=LOW,HIGH for the objects), AdamW 2e-3, one warm-up epoch, per-epoch cosine, batch 64, label smoothing 0.1, no crop, flip, 3,000
/// images, 6 epochs, 600 held-out images (another seed). With data=garments (and garments=FOLDER, default Debian's Fashion-MNIST) the images are
/// GarmentScenes instead; with recipe=trainer every training setting not given is CrateTrainerOptions' default.
/// </summary>
internal static class PlateauStudy
{
    private const string Keys = "variant seed images test epochs batch optimizer lr wd warmup schedule smoothing crop minscale flip " +
        "initialization u d pos head threads size radius width depth heads headdim patch shapes textures distractors background data garments recipe cls";

    public static int Run(string[] settings, bool probe)
    {
        Dictionary<string, string> s;
        try
        {
            s = settings.Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a.Length > 1 ? a[1] : "");
            foreach (string key in s.Keys)
                if (!Keys.Split(' ').Contains(key)) throw new ArgumentException($"Unknown setting '{key}'. Settings: {Keys}.");
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        string Get(string key, string fallback) => s.TryGetValue(key, out string? v) ? v : fallback;
        torch.set_num_threads(int.Parse(Get("threads", "1")));
        int size = int.Parse(Get("size", "48"));
        var data = new SceneDatasetOptions { Count = int.Parse(Get("images", "3000")), Seed = 1, ImageWidth = size, ImageHeight = size };
        if (s.TryGetValue("radius", out string? radius))
            data = data with { ObjectRadius = (double.Parse(radius.Split(',')[0]), double.Parse(radius.Split(',')[1])) };
        if (s.TryGetValue("shapes", out string? shapes))
            data = data with { Shapes = shapes.Split(',').Select(Enum.Parse<ShapeFamily>).ToArray() };
        if (s.TryGetValue("textures", out string? textures))
            data = data with { Textures = textures.Split(',').Select(Enum.Parse<ShapeTexture>).ToArray() };
        if (s.TryGetValue("distractors", out string? distractors))
            data = data with { Distractors = (int.Parse(distractors.Split(',')[0]), int.Parse(distractors.Split(',')[^1])) };
        if (s.TryGetValue("background", out string? background))
            data = data with { TexturedBackground = bool.Parse(background) };
        // recipe=trainer leaves every training setting not given at CrateTrainerOptions' default (what a new user gets);
        // otherwise the study's own recipe above applies.
        bool trainerDefaults = Get("recipe", "study") == "trainer";
        var options = new CrateTrainerOptions
        {
            ModelSize = CrateModelSize.Custom, EmbeddingDim = int.Parse(Get("width", "64")), Depth = int.Parse(Get("depth", "4")),
            Heads = int.Parse(Get("heads", "4")), HeadDim = int.Parse(Get("headdim", "16")), PatchSize = int.Parse(Get("patch", "4")),
            ImageHeight = data.ImageHeight, ImageWidth = data.ImageWidth, Variant = Enum.Parse<CrateVariant>(Get("variant", "Crate"), true),
            Seed = int.Parse(Get("seed", "0")), Epochs = int.Parse(Get("epochs", "6")), Device = ComputeDevice.Cpu, LogEverySteps = int.MaxValue,
        };
        bool Given(string key) => !trainerDefaults || s.ContainsKey(key);
        if (Given("batch")) options.BatchSize = int.Parse(Get("batch", "64"));
        if (Given("optimizer")) options.Optimizer = Enum.Parse<CrateOptimizerKind>(Get("optimizer", "AdamW"), true);
        if (Given("lr")) options.LearningRate = double.Parse(Get("lr", "2e-3"));
        if (Given("warmup")) options.WarmupEpochs = int.Parse(Get("warmup", "1"));
        if (Given("schedule")) options.Schedule = Enum.Parse<ScheduleGranularity>(Get("schedule", "PerEpoch"), true);
        if (Given("smoothing")) options.LabelSmoothing = double.Parse(Get("smoothing", "0.1"));
        if (Given("crop")) options.RandomResizedCrop = bool.Parse(Get("crop", "false"));
        if (Given("minscale")) options.CropMinScale = double.Parse(Get("minscale", "0.08"));
        if (Given("flip")) options.HorizontalFlip = bool.Parse(Get("flip", "true"));
        if (Given("initialization")) options.Initialization = Enum.Parse<CrateInitialization>(Get("initialization", "Reference"), true);
        if (s.TryGetValue("wd", out string? wd)) options.WeightDecay = double.Parse(wd);
        int classCount = Get("data", "scenes") == "garments" ? GarmentScenes.ClassNames.Count : data.ClassCount;
        string? initial = InitialWeights(s, options, classCount);
        options.InitialWeightsPath = initial;
        Console.WriteLine($"# {(probe ? "probe" : "run")}: {string.Join(' ', settings)} | {classCount} classes, {data.Count} images");
        try
        {
            if (probe) Probe(options, data, int.Parse(Get("epochs", "6")));
            else Train(options, data, int.Parse(Get("test", "600")), Get("data", "scenes") == "garments" ? Get("garments", new GarmentSceneOptions().Folder) : null);
        }
        finally
        {
            if (initial is not null) File.Delete(initial);
        }
        return 0;
    }

    /// <summary>
    /// Component initialisations tried on the way, applied to the reference initialisation of the same seed and
    /// handed to the trainer as initial weights: u=orthogonal | u=orthogonal:X | u=scale:X (MSSA bases: orthogonal,
    /// orthogonal then times X, or the reference draw times X), d=orthogonal (ISTA dictionaries), pos=X (the standard
    /// normal positional embedding times X), head=zero (the classifier's weight and bias), cls=zero (the [CLS] token and
    /// its positional embedding zero, so that its LayerNorm is zero and its attention uniform: at the start [CLS] reads
    /// the mean of the tokens). Applied after the initialisation named by initialization=. Null when none is asked for.
    /// </summary>
    private static string? InitialWeights(Dictionary<string, string> s, CrateTrainerOptions options, int classCount)
    {
        if (!s.Keys.Any(k => k is "u" or "d" or "pos" or "head" or "cls")) return null;
        manual_seed(options.Seed);
        using var model = new CrateModel(options.ToArchitecture(classCount));
        NetworkInitialization.Apply(model, options.Initialization);
        using (no_grad())
            foreach ((string name, Parameter p) in model.named_parameters())
            {
                if (name.EndsWith("subspace_bases.weight") && s.TryGetValue("u", out string? u))
                {
                    string[] parts = u.Split(':');
                    if (parts[0] == "orthogonal") nn.init.orthogonal_(p);
                    if (parts.Length > 1) p.mul_(double.Parse(parts[1]));
                }
                if (name.EndsWith("feedforward.dictionary") && s.GetValueOrDefault("d") == "orthogonal") nn.init.orthogonal_(p);
                if (name == "pos_embedding" && s.TryGetValue("pos", out string? scale)) p.mul_(double.Parse(scale));
                if (name.StartsWith("head.", StringComparison.Ordinal) && s.GetValueOrDefault("head") == "zero") p.zero_();
                if (s.GetValueOrDefault("cls") == "zero" && name == "cls_token") p.zero_();
                if (s.GetValueOrDefault("cls") == "zero" && name == "pos_embedding") p[.., 0].zero_();
            }
        string path = Path.Combine(Path.GetTempPath(), $"crate-plateau-{Guid.NewGuid():N}.safetensors");
        CrateModelFile.Save(model, path);
        return path;
    }

    /// <summary>
    /// Trains on SceneDataset's training images, or with data=garments on GarmentScenes built from the Fashion-MNIST
    /// files in <paramref name="garmentFolder"/> (training photographs from its train split, held-out ones from t10k).
    /// </summary>
    private static void Train(CrateTrainerOptions options, SceneDatasetOptions data, int testCount, string? garmentFolder)
    {
        var context = new MLContext(seed: 0);
        IDataView training, held;
        if (garmentFolder is null)
            (training, held) = (SceneDataset.LoadTrainingDataView(context, data), SceneDataset.LoadTrainingDataView(context, data with { Count = testCount, Seed = 1001 }));
        else
        {
            var garments = new GarmentSceneOptions { Folder = garmentFolder, Count = data.Count, Seed = 1, ImageSize = data.ImageWidth };
            (training, held) = (GarmentScenes.LoadDataView(context, garments),
                GarmentScenes.LoadDataView(context, garments with { Split = "t10k", Count = testCount, Seed = 1001 }));
        }
        // One key mapping, fitted on the training images, for both views: a held-out set missing a class keeps its keys.
        ITransformer keys = context.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(training);
        options.ValidationSet = keys.Transform(held);
        var clock = Stopwatch.StartNew();
        Console.WriteLine("| epoch | step | training loss | training accuracy | held-out accuracy | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|");
        options.Progress = p =>
        {
            if (p.IsEpochEnd)
                Console.WriteLine($"| {p.Epoch} | {p.Step} | {p.Loss:F4} | {p.TrainAccuracy:P1} | {p.ValidationAccuracy:P1} | {clock.Elapsed.TotalSeconds:F0} |");
        };
        context.MulticlassClassification.Trainers.Crate(options).Fit(keys.Transform(training));
    }

    /// <summary>
    /// A plain loop (AdamW, the schedule, no augmentation) over the same images, probing at steps 0, 10, 50, 100,
    /// 150, 200, … : per-block gradient norms of the loss on a fixed batch of 64 held-out images, and per layer the
    /// share of the [CLS] attention (averaged over heads, renormalised over patches) that falls on object patches
    /// (patches at least half covered by the object) against those patches' share of the grid.
    /// </summary>
    private static void Probe(CrateTrainerOptions options, SceneDatasetOptions data, int epochs)
    {
        manual_seed(options.Seed);
        using var model = options.InitialWeightsPath is string path ? CrateModelFile.Load(path) : new CrateModel(options.ToArchitecture(data.ClassCount));
        if (options.InitialWeightsPath is null) NetworkInitialization.Apply(model, options.Initialization);
        using var optimizer = new AdamWOptimizer(model.parameters(), options.LearningRate!.Value, options.WeightDecay ?? 0.1);
        var schedule = new LearningRateSchedule(options.WarmupEpochs, epochs);
        SceneDatasetOptions held = data with { Seed = 1001 };
        (Tensor probeImages, Tensor probeLabels) = Batch(held, Enumerable.Range(0, 64).ToArray());
        Tensor objectPatches = ObjectPatches(held, 64, options.PatchSize);
        int stepsPerEpoch = data.Count / options.BatchSize;
        int[] order = Crate.Trainers.Augmentation.SplitMix64.Permutation(data.Count, (ulong)options.Seed);
        for (int step = 0; step <= epochs * stepsPerEpoch; step++)
        {
            if (step is 10 || step % 50 == 0 || step == epochs * stepsPerEpoch) Report(model, probeImages, probeLabels, objectPatches, step, options.LabelSmoothing);
            if (step == epochs * stepsPerEpoch) break;
            using var scope = NewDisposeScope();
            optimizer.LearningRate = options.LearningRate.Value * schedule.Factor(step / stepsPerEpoch);
            int first = step % stepsPerEpoch * options.BatchSize;
            (Tensor images, Tensor labels) = Batch(data, order[first..(first + options.BatchSize)]);
            model.train();
            optimizer.ZeroGrad();
            nn.functional.cross_entropy(model.forward(images), labels, label_smoothing: options.LabelSmoothing).backward();
            optimizer.Step();
        }
    }

    private static void Report(CrateModel model, Tensor images, Tensor labels, Tensor objectPatches, int step, double smoothing)
    {
        using var scope = NewDisposeScope();
        model.train();
        foreach (Parameter p in model.parameters()) p.grad?.zero_();
        Tensor loss = nn.functional.cross_entropy(model.forward(images), labels, label_smoothing: smoothing);
        loss.backward();
        var norms = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach ((string name, Parameter p) in model.named_parameters())
        {
            if (p.grad is null) continue;
            string block = name.StartsWith("layers.", StringComparison.Ordinal) ? string.Join('.', name.Split('.').Take(3)) : name.Split('.')[0];
            norms[block] = norms.GetValueOrDefault(block) + p.grad.pow(2).sum().item<float>();
        }
        foreach (Parameter p in model.parameters()) p.grad?.zero_();
        Console.WriteLine($"step {step}: probe loss {loss.item<float>():F4}; gradient norms " +
            string.Join(", ", norms.Select(kv => $"{kv.Key} {Math.Sqrt(kv.Value):E1}")));
        model.eval();
        using (no_grad())
        {
            using CrateIntrospection seen = model.Introspect(images, new IntrospectionRequest { ClsAttention = true, Sparsity = false });
            double share = objectPatches.mean().item<float>();
            Console.WriteLine($"  [CLS] attention on the object (its patches are {share:P1} of the grid), by layer: " +
                string.Join(", ", seen.Layers.Select(l => $"{(l.ClsAttention!.mean(new long[] { 1 }) * objectPatches).sum(-1).mean().item<float>():P1}")));
        }
    }

    private static (Tensor Images, Tensor Labels) Batch(SceneDatasetOptions data, int[] indices)
    {
        int hw = data.ImageHeight * data.ImageWidth;
        var pixels = new float[indices.Length * 3 * hw];
        var labels = new long[indices.Length];
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        for (int b = 0; b < indices.Length; b++)
        {
            SceneSample sample = SceneDataset.TrainingImage(data, indices[b]);
            labels[b] = sample.ClassIndex;
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < hw; p++)
                    pixels[(b * 3 + c) * hw + p] = (sample.Rgb[3 * p + c] / 255f - mean[c]) / std[c];
        }
        return (tensor(pixels, new long[] { indices.Length, 3, data.ImageHeight, data.ImageWidth }), tensor(labels));
    }

    private static Tensor ObjectPatches(SceneDatasetOptions data, int count, int patch)
    {
        int gridWidth = data.ImageWidth / patch, cells = gridWidth * (data.ImageHeight / patch);
        var covered = new float[count * cells];
        for (int b = 0; b < count; b++)
        {
            bool[] mask = SceneDataset.TrainingImage(data, b).Mask;
            for (int y = 0; y < data.ImageHeight; y++)
                for (int x = 0; x < data.ImageWidth; x++)
                    if (mask[y * data.ImageWidth + x]) covered[b * cells + y / patch * gridWidth + x / patch] += 1f / (patch * patch);
        }
        return tensor(covered, new long[] { count, cells }).ge(0.5).to_type(ScalarType.Float32);
    }
}
