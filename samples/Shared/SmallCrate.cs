using Crate.Trainers;
using Crate.Transforms;

namespace Crate.Samples;

/// <summary>
/// The samples' one recipe for a CRATE trained from scratch on the embedded dataset's 32×32 images: d 64, 4 layers of
/// 4 heads of 16, AdamW at 3e-3 with a one-epoch warm-up and a per-step cosine, flips only (random crops of a 32×32
/// image too often cut the object away). At patch 8 it learns the default 4 classes to over 90 % in 16 epochs of
/// 4,000 images (about a minute on 2 CPU cores); at patch 4 its 8×8 grid of [CLS] attention follows the objects'
/// outlines (docs/performance.md, "Segmentation from classification").
/// </summary>
internal static class SmallCrate
{
    /// <summary>The recipe for <paramref name="epochs"/> epochs at patches of <paramref name="patchSize"/> pixels.</summary>
    public static CrateTrainerOptions Options(int epochs, int patchSize, ComputeDevice device) => new()
    {
        ModelSize = CrateModelSize.Custom, EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = patchSize,
        ImageHeight = 32, ImageWidth = 32, Epochs = epochs, BatchSize = 64, Optimizer = CrateOptimizerKind.AdamW, LearningRate = 3e-3,
        WeightDecay = 0.05, WarmupEpochs = 1, Schedule = ScheduleGranularity.PerStep, RandomResizedCrop = false, Seed = 0, Device = device,
        LogEverySteps = 10,
    };
}
