using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;

namespace Crate.Trainers;

/// <summary>Named model sizes of the reference code, or explicit dimensions.</summary>
public enum CrateModelSize
{
    /// <summary>CRATE-T: d 384, 12 layers, 6 heads of 64.</summary>
    Tiny,

    /// <summary>CRATE-S: d 576, 12 layers, 12 heads of 48.</summary>
    Small,

    /// <summary>CRATE-B: d 768, 12 layers, 12 heads of 64.</summary>
    Base,

    /// <summary>CRATE-L: d 1024, 24 layers, 16 heads of 64.</summary>
    Large,

    /// <summary>The dimensions given by <see cref="CrateTrainerOptions.EmbeddingDim"/>, <see cref="CrateTrainerOptions.Depth"/>,
    /// <see cref="CrateTrainerOptions.Heads"/> and <see cref="CrateTrainerOptions.HeadDim"/>.</summary>
    Custom,
}

/// <summary>The optimizer of the training loop.</summary>
public enum CrateOptimizerKind
{
    /// <summary>Lion, betas (0.9, 0.99): the reference's README recipe (lr 2e-4, wd 0.05 at batch 512).</summary>
    Lion,

    /// <summary>AdamW, betas (0.9, 0.999): the reference's alternative (lr 4e-4, wd 0.1) and the fine-tuning recipe.</summary>
    AdamW,
}

/// <summary>When the learning-rate schedule advances.</summary>
public enum ScheduleGranularity
{
    /// <summary>Once per epoch, as the reference's LambdaLR.</summary>
    PerEpoch,

    /// <summary>Every step, with the epoch counted fractionally.</summary>
    PerStep,
}

/// <summary>What one progress report carries.</summary>
/// <param name="Epoch">Epoch, 1-based.</param>
/// <param name="Step">Global optimizer step, 1-based.</param>
/// <param name="StepsPerEpoch">Optimizer steps in an epoch.</param>
/// <param name="Loss">Mean training loss since the previous report.</param>
/// <param name="TrainAccuracy">Training accuracy since the previous report (on augmented images).</param>
/// <param name="ValidationAccuracy">Validation accuracy, at epoch ends when a validation set is given.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="ImagesPerSecond">Training throughput since the previous report.</param>
/// <param name="EstimatedRemaining">Time left at the current pace.</param>
/// <param name="IsEpochEnd">True for the report that closes an epoch.</param>
/// <param name="DataWaitFraction">Share of the run so far the network spent waiting for the next batch.</param>
public sealed record CrateTrainingProgress(int Epoch, long Step, int StepsPerEpoch, double Loss, double TrainAccuracy,
    double? ValidationAccuracy, double LearningRate, double ImagesPerSecond, TimeSpan EstimatedRemaining, bool IsEpochEnd,
    double DataWaitFraction);

/// <summary>
/// Options of <see cref="CrateTrainer"/>. Defaults follow the reference recipe where it has one, scaled to
/// what a CPU trains in minutes where it does not.
/// </summary>
public sealed class CrateTrainerOptions
{
    /// <summary>Key-typed label column. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Image column: an MLImage (any size, resized) or a float vector shaped [3, H, W] in [0, 1]. Default "Image".</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>Output column of class probabilities. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output key column of the predicted class. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>Model size. Default <see cref="CrateModelSize.Tiny"/>.</summary>
    public CrateModelSize ModelSize { get; set; } = CrateModelSize.Tiny;

    /// <summary>d, for <see cref="CrateModelSize.Custom"/>.</summary>
    public int EmbeddingDim { get; set; } = 384;

    /// <summary>Layers L, for <see cref="CrateModelSize.Custom"/>.</summary>
    public int Depth { get; set; } = 12;

    /// <summary>Heads K, for <see cref="CrateModelSize.Custom"/>.</summary>
    public int Heads { get; set; } = 6;

    /// <summary>Head dimension p, for <see cref="CrateModelSize.Custom"/>.</summary>
    public int HeadDim { get; set; } = 64;

    /// <summary>Patch side P in pixels. Default 16.</summary>
    public int PatchSize { get; set; } = 16;

    /// <summary>Network input height; images are resized to it. Default 224.</summary>
    public int ImageHeight { get; set; } = 224;

    /// <summary>Network input width; images are resized to it. Default 224.</summary>
    public int ImageWidth { get; set; } = 224;

    /// <summary>When false, every image must already be ImageHeight × ImageWidth. Default true.</summary>
    public bool ResizeImages { get; set; } = true;

    /// <summary>What the head reads: the [CLS] token (the reference's default) or the mean of all tokens. Default <see cref="TokenPooling.Cls"/>.</summary>
    public TokenPooling Pooling { get; set; } = TokenPooling.Cls;

    /// <summary>CRATE or an ablation. Default <see cref="CrateVariant.Crate"/>.</summary>
    public CrateVariant Variant { get; set; } = CrateVariant.Crate;

    /// <summary>
    /// How a network trained from scratch is initialised. Default <see cref="CrateInitialization.Orthogonal"/>: with
    /// the reference's <see cref="CrateInitialization.Reference"/> a small CRATE learns small-object images far more
    /// slowly than ViT (docs/emergence.md). Ignored when <see cref="InitialWeightsPath"/> or <see cref="ResumeFrom"/> is set.
    /// </summary>
    public CrateInitialization Initialization { get; set; } = CrateInitialization.Orthogonal;

    /// <summary>Passes over the training data. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Images per optimizer step. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// Optimizer. Default <see cref="CrateOptimizerKind.AdamW"/>: with these defaults a small CRATE trained from scratch
    /// learns the embedded scenes and photographs pasted on clutter at least as fast per step as ViT, where the
    /// reference's Lion recipe (with its crops and per-epoch schedule) left it near chance for hundreds of steps
    /// (docs/emergence.md, "Defaults that train").
    /// </summary>
    public CrateOptimizerKind Optimizer { get; set; } = CrateOptimizerKind.AdamW;

    /// <summary>
    /// Peak learning rate; null for the default: AdamW 1e-3 when training from scratch and 4e-4 (the reference's) when
    /// fine-tuning from <see cref="InitialWeightsPath"/>; Lion 2e-4 (the reference's) either way.
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>
    /// Decoupled weight decay; null for the default: AdamW 0.05 when training from scratch and 0.1 (the reference's)
    /// when fine-tuning; Lion 0.05 (the reference's).
    /// </summary>
    public double? WeightDecay { get; set; }

    /// <summary>Linear warm-up epochs before the cosine decay. Default 1.</summary>
    public int WarmupEpochs { get; set; } = 1;

    /// <summary>
    /// When the schedule advances. Default every step: a smooth warm-up and decay, which a run of a few epochs needs
    /// (the reference advances per epoch over its 400 ImageNet epochs).
    /// </summary>
    public ScheduleGranularity Schedule { get; set; } = ScheduleGranularity.PerStep;

    /// <summary>Label smoothing of the cross-entropy. Default 0.1.</summary>
    public double LabelSmoothing { get; set; } = 0.1;

    /// <summary>
    /// RandomResizedCrop (scale <see cref="CropMinScale"/>–1, ratio 3/4–4/3) on training images. Default false: on
    /// small images whose object is a fraction of the frame a crop often cuts the object away: even at a smallest scale of
    /// 0.35 it cut CRATE's held-out accuracy after 376 steps from 22 % to 16 % and ViT's from 25 % to 22 %
    /// (docs/emergence.md). Turn it on for long runs on large photographs.
    /// </summary>
    public bool RandomResizedCrop { get; set; }

    /// <summary>Smallest crop area of RandomResizedCrop, as a fraction of the image. Default 0.08 (the reference's).</summary>
    public double CropMinScale { get; set; } = 0.08;

    /// <summary>Horizontal flip with probability ½ on training images. Default true.</summary>
    public bool HorizontalFlip { get; set; } = true;

    /// <summary>Channel normalisation. Default ImageNet's mean and std.</summary>
    public ImageNormalization Normalization { get; set; } = new();

    /// <summary>Seed of initialisation, shuffling and augmentation. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Where training runs. Default <see cref="ComputeDevice.Auto"/> (the choice and its reason are logged).</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Auto;

    /// <summary>Clip the gradients' global L2 norm to this; null for no clipping. Default null.</summary>
    public double? GradientClipNorm { get; set; }

    /// <summary>Mixed precision on CUDA: bfloat16 forward and backward with float32 master weights (see
    /// MixedPrecisionCopy), on GPUs of compute capability 8.0 (Ampere) or later; older GPUs train in float32, and the
    /// log says why. Ignored on the CPU. Default true.</summary>
    public bool MixedPrecision { get; set; } = true;

    /// <summary>Runs the mixed-precision path on the CPU too, so tests on machines without a GPU exercise it.</summary>
    internal bool MixedPrecisionOnCpu { get; set; }

    /// <summary>Threads a CPU training step runs on: each batch is cut into this many shards of (nearly) equal size,
    /// each computed on a thread of its own that runs libtorch single-threaded, and their gradients are summed in shard
    /// order before the optimizer's step. 1 runs the batch whole on libtorch's own intra-op threads. A run is
    /// deterministic for a given count. Ignored on a GPU and on the mixed-precision path. Default null: the processor
    /// count.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Held-out rows scored at each epoch end; enables early stopping. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Stop after this many epochs without a better validation accuracy (the best weights are kept). Default null: never.</summary>
    public int? EarlyStoppingPatience { get; set; }

    /// <summary>Start from the network in this file: a model saved by <c>CrateModelFile</c>, a pipeline saved by
    /// <c>CratePipelineFile</c>, or a torch.save file of the reference code (told apart by content, see
    /// <c>CrateNetworkFile</c>). Its backbone must have the options' dimensions; the head is replaced when the class
    /// count differs. Default null.</summary>
    public string? InitialWeightsPath { get; set; }

    /// <summary>Heads K of a reference checkpoint (its shapes do not fix K). Default null: taken from <see cref="ModelSize"/>.</summary>
    public int? InitialWeightsHeads { get; set; }

    /// <summary>Train only the head; the backbone stays as loaded. Default false.</summary>
    public bool FreezeBackbone { get; set; }

    /// <summary>Write a checkpoint here every <see cref="CheckpointEveryEpochs"/> epochs. Default null: no checkpoints.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Epochs between checkpoints. Default 1.</summary>
    public int CheckpointEveryEpochs { get; set; } = 1;

    /// <summary>Continue the run saved in this checkpoint file. Default null.</summary>
    public string? ResumeFrom { get; set; }

    /// <summary>Log (and call <see cref="Progress"/>) every this many steps, besides every epoch end. Default 50.</summary>
    public int LogEverySteps { get; set; } = 50;

    /// <summary>Called with progress reports on the training thread. Default null.</summary>
    public Action<CrateTrainingProgress>? Progress { get; set; }

    /// <summary>Stops training after the current step; a checkpoint is written when a directory is set. Default none.</summary>
    public CancellationToken Cancellation { get; set; }

    /// <summary>Rows a training epoch is shuffled within: a pool of this many decoded images (see WindowedShuffle). Default 256.</summary>
    public int ShuffleWindow { get; set; } = 256;

    /// <summary>Batches prepared ahead of the network by the background reader. Default 4.</summary>
    public int PrefetchBatches { get; set; } = 4;

    /// <summary>Rows per network pass when the fitted transformer scores. Default 64.</summary>
    public int InferenceBatchSize { get; set; } = 64;

    internal double EffectiveLearningRate => LearningRate ?? (Optimizer == CrateOptimizerKind.Lion ? 2e-4 : InitialWeightsPath is null ? 1e-3 : 4e-4);

    internal double EffectiveWeightDecay => WeightDecay ?? (Optimizer == CrateOptimizerKind.Lion || InitialWeightsPath is null ? 0.05 : 0.1);

    /// <summary>The network architecture these options describe, for <paramref name="classCount"/> classes.</summary>
    public CrateArchitecture ToArchitecture(int classCount)
    {
        CrateArchitecture named = ModelSize switch
        {
            CrateModelSize.Tiny => CrateArchitecture.Tiny(classCount, PatchSize),
            CrateModelSize.Small => CrateArchitecture.Small(classCount, PatchSize),
            CrateModelSize.Base => CrateArchitecture.Base(classCount, PatchSize),
            CrateModelSize.Large => CrateArchitecture.Large(classCount, PatchSize),
            _ => new CrateArchitecture
            {
                EmbeddingDim = EmbeddingDim, Depth = Depth, Heads = Heads, HeadDim = HeadDim, PatchSize = PatchSize,
                ImageHeight = ImageHeight, ImageWidth = ImageWidth, ClassCount = classCount,
            },
        };
        return named with { ImageHeight = ImageHeight, ImageWidth = ImageWidth, Variant = Variant, Pooling = Pooling };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, string why)
        {
            if (!ok) throw new ArgumentException($"CrateTrainerOptions.{name} {why}.", name);
        }
        Require(Epochs >= 1, nameof(Epochs), "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), "must be at least 1");
        Require(InferenceBatchSize >= 1, nameof(InferenceBatchSize), "must be at least 1");
        Require(WarmupEpochs >= 0, nameof(WarmupEpochs), "must not be negative");
        Require(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), "must be in [0, 1)");
        Require(Enum.IsDefined(Initialization), nameof(Initialization), $"{(int)Initialization} is not a known initialisation");
        Require(EffectiveLearningRate > 0, nameof(LearningRate), "must be positive");
        Require(EffectiveWeightDecay >= 0, nameof(WeightDecay), "must not be negative");
        Require(GradientClipNorm is null or > 0, nameof(GradientClipNorm), "must be positive");
        Require(CheckpointEveryEpochs >= 1, nameof(CheckpointEveryEpochs), "must be at least 1");
        Require(LogEverySteps >= 1, nameof(LogEverySteps), "must be at least 1");
        Require(NumberOfThreads is null or >= 1, nameof(NumberOfThreads), "must be at least 1");
        Require(PrefetchBatches >= 1, nameof(PrefetchBatches), "must be at least 1");
        Require(ShuffleWindow >= 1, nameof(ShuffleWindow), "must be at least 1");
        Require(CropMinScale is > 0 and <= 1, nameof(CropMinScale), "must be in (0, 1]");
        Require(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), "must be at least 1");
        Require(EarlyStoppingPatience is null || ValidationSet is not null, nameof(EarlyStoppingPatience), "needs a ValidationSet");
        Require(Normalization.Mean.Length == 3 && Normalization.Std.Length == 3 && Normalization.Std.All(s => s > 0),
            nameof(Normalization), "needs three means and three positive standard deviations");
        Require(ImageHeight >= PatchSize && ImageHeight % PatchSize == 0, nameof(ImageHeight), $"{ImageHeight} must be a positive multiple of the patch size {PatchSize}");
        Require(ImageWidth >= PatchSize && ImageWidth % PatchSize == 0, nameof(ImageWidth), $"{ImageWidth} must be a positive multiple of the patch size {PatchSize}");
        Require(InitialWeightsPath is null || File.Exists(InitialWeightsPath), nameof(InitialWeightsPath), $"'{InitialWeightsPath}' does not exist");
        Require(ResumeFrom is null || File.Exists(ResumeFrom), nameof(ResumeFrom), $"'{ResumeFrom}' does not exist");
    }
}
