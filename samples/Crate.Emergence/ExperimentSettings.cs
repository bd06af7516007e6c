using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;

namespace Crate.Emergence;

/// <summary>How the read-outs are measured: the thresholding rule of Appendix B.3 and MaskCut's settings (B.4).</summary>
public sealed record MeasurementSettings
{
    /// <summary>How attention maps become masks. Default the paper's top-P rule.</summary>
    public MaskRule Rule { get; init; } = MaskRule.TopFraction;

    /// <summary>P. Default 0.6 (Appendix B.3).</summary>
    public double Fraction { get; init; } = 0.6;

    /// <summary>MaskCut's n, τ and filters. Default the paper's (n = 3, τ = 0.15, no CRF).</summary>
    public MaskCutOptions Cut { get; init; } = new();

    /// <summary>The network input side for the read-outs; null for each model's training size. Default null.</summary>
    public int? InputSize { get; init; }

    /// <summary>Layers measured (0-based); null for all. Default null.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>Images per network pass. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Where the read-outs run. Default auto.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;
}

/// <summary>Everything one run of the experiment on the embedded data is made of.</summary>
public sealed record ExperimentSettings
{
    /// <summary>The paper's Table 2 variants, in the order the report lists them.</summary>
    public static readonly IReadOnlyList<CrateVariant> PaperVariants = [CrateVariant.Crate, CrateVariant.ViT, CrateVariant.CrateMhsa, CrateVariant.CrateMlp];

    /// <summary>The training recipe every model shares.</summary>
    public TrainingRecipe Recipe { get; init; } = new();

    /// <summary>The models trained. Default CRATE, ViT, CRATE-MHSA, CRATE-MLP.</summary>
    public IReadOnlyList<CrateVariant> Variants { get; init; } = PaperVariants;

    /// <summary>One training of every variant per seed. Default 0, 1, 2.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The images (size, vocabulary, clutter); its Count and Seed are set per set below. Default SceneDataset's defaults.</summary>
    public SceneDatasetOptions Data { get; init; } = new();

    /// <summary>Held-out single-object images for classification accuracy. Default 600.</summary>
    public int TestImages { get; init; } = 600;

    /// <summary>Multi-object scenes for segmentation and MaskCut. Default 200.</summary>
    public int EvaluationScenes { get; init; } = 200;

    /// <summary>
    /// Train every variant under each of these initialisations (rows named "CRATE (Reference)", …); null for the
    /// recipe's one. Default null.
    /// </summary>
    public IReadOnlyList<Crate.Trainers.CrateInitialization>? Initializations { get; init; }

    /// <summary>
    /// Measure every network at its initialisation too (the same variant and seed after one step at a learning rate of
    /// 1e-12): the untrained floor the report's verdicts ask each trained model to beat. Default true.
    /// </summary>
    public bool MeasureUntrained { get; init; } = true;

    /// <summary>Measure every epoch's checkpoint too (Figure 10). Default false.</summary>
    public bool EvaluateEveryEpoch { get; init; }

    /// <summary>How the read-outs are measured.</summary>
    public MeasurementSettings Measurement { get; init; } = new();

    /// <summary>Images in each picture: the first ones of the evaluation scenes, in data order (none chosen by hand). Default 8.</summary>
    public int PictureImages { get; init; } = 8;

    /// <summary>Where training runs. Default auto.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The trainer's <c>NumberOfThreads</c>: shards of each CPU batch, each on a single-threaded worker.
    /// Default null: the processor count.</summary>
    public int? TrainingThreads { get; init; }

    /// <summary>Seed of the training images (model seeds vary initialisation, order and augmentation only). Default 1.</summary>
    public int TrainingDataSeed { get; init; } = 1;

    /// <summary>Seed of the test images. Default 2.</summary>
    public int TestDataSeed { get; init; } = 2;

    /// <summary>Seed of the evaluation scenes. Default 3.</summary>
    public int SceneDataSeed { get; init; } = 3;

    /// <summary>
    /// The default run: 4 variants × 3 seeds of the default recipe (281 steps each), 600 test images, 200 scenes. Sized
    /// to finish in 20 minutes on 2 CPU cores (docs/emergence.md has the measured time).
    /// </summary>
    public static ExperimentSettings Default => new();

    /// <summary>
    /// <c>--long</c>: the miniature of docs/emergence.md's search, in which both classifiers are well trained (3
    /// classes that differ only in the object's texture, which the clutter never carries): CRATE and ViT, each under
    /// <see cref="Crate.Trainers.CrateInitialization.OrthogonalAllBlocks"/> (CRATE's initialisation, and the equivalent
    /// one for ViT's blocks) and under the authors' <see cref="Crate.Trainers.CrateInitialization.Reference"/>, 3 seeds
    /// each. Sized to finish within 90 minutes on 2 CPU cores (docs/emergence.md has the measured time).
    /// </summary>
    public static ExperimentSettings Long => new()
    {
        Recipe = new TrainingRecipe { TrainingImages = 6000, Epochs = 6 },
        Variants = [CrateVariant.Crate, CrateVariant.ViT],
        Initializations = [Crate.Trainers.CrateInitialization.OrthogonalAllBlocks, Crate.Trainers.CrateInitialization.Reference],
        Data = new SceneDatasetOptions { Shapes = [ShapeFamily.Disc], Textures = [ShapeTexture.Stripes, ShapeTexture.Checker, ShapeTexture.Dots], ObjectRadius = (7, 12) },
    };

    /// <summary>
    /// <c>--quick</c>: the same experiment made small: 2 seeds, 1,000
    /// images × 2 epochs (31 steps), 200 test images, 40 scenes. The models are barely trained; it checks that
    /// everything runs and how the report looks, not what it finds.
    /// </summary>
    public static ExperimentSettings Quick => new()
    {
        Recipe = new TrainingRecipe { TrainingImages = 1000, Epochs = 2 },
        Seeds = [0, 1],
        TestImages = 200,
        EvaluationScenes = 40,
        PictureImages = 4,
    };
}
