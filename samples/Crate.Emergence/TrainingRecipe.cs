using Crate.Trainers;
using Crate.Transforms;
using Crate.Transforms.Network;

namespace Crate.Emergence;

/// <summary>
/// How every model of the experiment is trained: one network shape (the variants differ only in their blocks, as in
/// the paper's Table 2), one optimizer and schedule, one amount of data and steps, so that the comparison is fair
/// (Section 3: "the same number of data and iterations, as well as optimizers").
/// </summary>
public sealed record TrainingRecipe
{
    /// <summary>d, the token width. Default 64.</summary>
    public int EmbeddingDim { get; init; } = 64;

    /// <summary>L, the number of layers. Default 4.</summary>
    public int Depth { get; init; } = 4;

    /// <summary>K, the number of heads. Default 4.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>p, the head width (K·p = d by default). Default 16.</summary>
    public int HeadDim { get; init; } = 16;

    /// <summary>P, the patch side in pixels. Default 4: 48×48 images give a 12×12 grid.</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>
    /// Training images (one object each). Default 6,000: with <see cref="Epochs"/> 3 and batches of 64, 281 steps per
    /// model, what 12 trainings (4 variants × 3 seeds) can take in the default run's 20 minutes on 2 CPU cores
    /// (docs/emergence.md has the measured time and what longer training changes).
    /// </summary>
    public int TrainingImages { get; init; } = 6000;

    /// <summary>Passes over them. Default 3.</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Images per step. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Optimizer. Default AdamW.</summary>
    public CrateOptimizerKind Optimizer { get; init; } = CrateOptimizerKind.AdamW;

    /// <summary>Peak learning rate. Default 2e-3.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Decoupled weight decay. Default 0.05.</summary>
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>Linear warm-up epochs before the cosine decay. Default 1.</summary>
    public int WarmupEpochs { get; init; } = 1;

    /// <summary>When the schedule advances. Default every step.</summary>
    public ScheduleGranularity Schedule { get; init; } = ScheduleGranularity.PerStep;

    /// <summary>Label smoothing. Default 0.1 (the reference's).</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>RandomResizedCrop on training images. Default false: a small crop of a 48-pixel image often cuts the object away.</summary>
    public bool RandomResizedCrop { get; init; }

    /// <summary>Smallest crop area when <see cref="RandomResizedCrop"/> is on. Default 0.35.</summary>
    public double CropMinScale { get; init; } = 0.35;

    /// <summary>Horizontal flips. Default true.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>
    /// How networks are initialised. Default <see cref="CrateInitialization.Orthogonal"/>, the trainer's: under the
    /// reference's initialisation CRATE sits near chance for hundreds of steps on these images (docs/emergence.md).
    /// </summary>
    public CrateInitialization Initialization { get; init; } = CrateInitialization.Orthogonal;

    /// <summary>Gradient clipping (global L2 norm); null for none. Default null.</summary>
    public double? GradientClipNorm { get; init; }

    /// <summary>The trainer's options for <paramref name="variant"/> with seed <paramref name="seed"/> (initialisation, shuffling, augmentation) at <paramref name="imageSize"/>.</summary>
    public CrateTrainerOptions ToTrainerOptions(CrateVariant variant, int seed, int imageSize, ComputeDevice device) => new()
    {
        ModelSize = CrateModelSize.Custom, EmbeddingDim = EmbeddingDim, Depth = Depth, Heads = Heads, HeadDim = HeadDim,
        PatchSize = PatchSize, ImageHeight = imageSize, ImageWidth = imageSize, Variant = variant,
        Epochs = Epochs, BatchSize = BatchSize, Optimizer = Optimizer, LearningRate = LearningRate, WeightDecay = WeightDecay,
        WarmupEpochs = WarmupEpochs, Schedule = Schedule, LabelSmoothing = LabelSmoothing,
        RandomResizedCrop = RandomResizedCrop, CropMinScale = CropMinScale, HorizontalFlip = HorizontalFlip,
        GradientClipNorm = GradientClipNorm, Initialization = Initialization, Seed = seed, Device = device, MixedPrecision = false,
    };

    /// <summary>One line for the report.</summary>
    public string Describe() =>
        $"d {EmbeddingDim}, {Depth} layers of {Heads} heads × {HeadDim}, patch {PatchSize}; {TrainingImages:N0} images × {Epochs} epochs " +
        $"in batches of {BatchSize}; {Optimizer} lr {LearningRate:G3}, weight decay {WeightDecay:G3}, {WarmupEpochs} warm-up epoch(s), cosine " +
        $"{(Schedule == ScheduleGranularity.PerStep ? "per step" : "per epoch")}; label smoothing {LabelSmoothing:G2}; " +
        (RandomResizedCrop ? $"RandomResizedCrop (scale ≥ {CropMinScale:G2})" : "no crops") + (HorizontalFlip ? ", flips" : ", no flips") +
        $"; {Initialization.ToString().ToLowerInvariant()} initialisation" +
        (GradientClipNorm is double clip ? $", gradient clip {clip:G3}" : "");
}
