using Crate.Transforms.Evaluation;

namespace Crate.Emergence;

/// <summary>COCO's headline numbers of one MaskCut evaluation (class-agnostic, as CutLER and the paper's Table 1).</summary>
/// <param name="AP">AP at IoU 0.50:0.95.</param>
/// <param name="AP50">AP at IoU 0.50.</param>
/// <param name="AP75">AP at IoU 0.75.</param>
/// <param name="AR100">AR with 100 detections per image.</param>
public sealed record CocoNumbers(double AP, double AP50, double AP75, double AR100)
{
    /// <summary>The numbers of <paramref name="metrics"/>; pycocotools' −1 (nothing to score) becomes NaN.</summary>
    public static CocoNumbers From(CocoMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        static double Value(double v) => v < 0 ? double.NaN : v;
        return new CocoNumbers(Value(metrics.AP), Value(metrics.AP50), Value(metrics.AP75), Value(metrics.AR100));
    }
}

/// <summary>What one layer of one model gives.</summary>
/// <param name="Layer">The layer, 0-based.</param>
/// <param name="BestHeadMeanIoU">The paper's eq. 13–14: per image and class (background included), the best head's IoU, averaged.</param>
/// <param name="MergedMaskIoU">The merged top-P mask (the heads' mean map thresholded) against all objects together: its IoU per image, averaged (DINO's Jaccard with one mask).</param>
/// <param name="VocMeanIoU">The VOC devkit's mIoU of the merged mask as a background/foreground segmentation (pooled over the set).</param>
/// <param name="Boxes">MaskCut's boxes on the layer's head features, class-agnostic COCO AP.</param>
/// <param name="Masks">MaskCut's masks, class-agnostic COCO AP.</param>
/// <param name="BestHeadCounts">How often each head was the best match in eq. 13.</param>
/// <param name="OtherRuleBestHeadMeanIoU">eq. 13–14 with the maps thresholded by the other rule (DINO's 60 %-of-mass when the measurement's is the paper's top-60 %-of-entries, and the reverse).</param>
/// <param name="OtherRuleMergedMaskIoU">The merged mask's IoU under the other rule.</param>
/// <param name="BestHeadPermutationGap">The permutation control: eq. 13–14 against each image's own truth minus against another scene's (image i's masks against image i + 1's truth).</param>
/// <param name="MergedMaskPermutationGap">The same for the merged mask's IoU.</param>
public sealed record LayerResult(int Layer, double BestHeadMeanIoU, double MergedMaskIoU, double VocMeanIoU, CocoNumbers Boxes, CocoNumbers Masks,
    IReadOnlyList<long> BestHeadCounts, double OtherRuleBestHeadMeanIoU, double OtherRuleMergedMaskIoU, double BestHeadPermutationGap,
    double MergedMaskPermutationGap);

/// <summary>What a row of the report is.</summary>
public enum ModelRole
{
    /// <summary>A network trained by the run.</summary>
    Trained,

    /// <summary>The same network (variant and seed) at its initialisation: the floor training must beat.</summary>
    Untrained,

    /// <summary>A mask that ignores the image (<see cref="PositionControl"/>), or the oracle ceiling.</summary>
    Control,

    /// <summary>A model given on the command line.</summary>
    Given,
}

/// <summary>The layers of one model at one epoch end.</summary>
/// <param name="Epoch">The epoch, 1-based.</param>
/// <param name="Accuracy">Test accuracy of that epoch's network.</param>
/// <param name="Layers">Its layers' results.</param>
public sealed record EpochResult(int Epoch, double Accuracy, IReadOnlyList<LayerResult> Layers);

/// <summary>One trained (or given) model's results.</summary>
/// <param name="Model">Its name in the report ("CRATE", "ViT", …, or a file name).</param>
/// <param name="Attention">"MSSA" or "MHSA".</param>
/// <param name="Nonlinearity">"ISTA", "MLP" or "soft threshold".</param>
/// <param name="Seed">The training seed; null for a given model.</param>
/// <param name="TestAccuracy">Accuracy on held-out single-object images; null for a given model.</param>
/// <param name="FinalTrainingLoss">Mean training loss over the last epoch; null for a given model.</param>
/// <param name="FinalTrainingAccuracy">Training accuracy over the last epoch (augmented images); null for a given model.</param>
/// <param name="TrainingSeconds">Wall time of training.</param>
/// <param name="TrainingCpuSeconds">CPU time of the process (all threads) during training.</param>
/// <param name="EvaluationSeconds">Wall time of the measurements.</param>
/// <param name="EvaluationCpuSeconds">CPU time of the process during the measurements.</param>
/// <param name="Layers">Per layer, in layer order.</param>
/// <param name="Epochs">Per epoch, when every epoch was measured.</param>
/// <param name="Role">What the row is. Default trained.</param>
public sealed record ModelResult(string Model, string Attention, string Nonlinearity, int? Seed, double? TestAccuracy, double? FinalTrainingLoss,
    double? FinalTrainingAccuracy, double TrainingSeconds, double TrainingCpuSeconds, double EvaluationSeconds, double EvaluationCpuSeconds,
    IReadOnlyList<LayerResult> Layers, IReadOnlyList<EpochResult>? Epochs, ModelRole Role = ModelRole.Trained);

/// <summary>A whole run: what was measured, on what, how long it took.</summary>
/// <param name="Title">What the run is ("Embedded scenes", "PASCAL VOC val", …).</param>
/// <param name="Dataset">One line on the evaluation data.</param>
/// <param name="Recipe">One line on the training recipe; null when models were given.</param>
/// <param name="Measurement">The thresholding rule and MaskCut settings, in words.</param>
/// <param name="ClassCount">Classes of the truth label maps (background included).</param>
/// <param name="ChanceAccuracy">1 / number of training classes; null when models were given.</param>
/// <param name="Models">Every model and seed.</param>
/// <param name="Machine">The machine, in words.</param>
/// <param name="StartedUtc">When the run started.</param>
/// <param name="WallSeconds">Wall time of the whole run.</param>
/// <param name="CpuSeconds">CPU time of the process (all threads).</param>
/// <param name="LoadAverageStart">The machine's 1-minute load average at the start (Linux), NaN elsewhere.</param>
/// <param name="LoadAverageEnd">The same at the end.</param>
public sealed record ExperimentResult(string Title, string Dataset, string? Recipe, string Measurement, int ClassCount, double? ChanceAccuracy,
    IReadOnlyList<ModelResult> Models, string Machine, DateTimeOffset StartedUtc, double WallSeconds, double CpuSeconds, double LoadAverageStart,
    double LoadAverageEnd);
