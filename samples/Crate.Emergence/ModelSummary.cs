namespace Crate.Emergence;

/// <summary>The numbers the report tabulates and plots per layer.</summary>
public enum Metric
{
    /// <summary>eq. 13–14, best head per class.</summary>
    BestHeadMeanIoU,

    /// <summary>The merged top-P mask's IoU with all objects, per image.</summary>
    MergedMaskIoU,

    /// <summary>The VOC devkit's background/foreground mIoU of the merged mask.</summary>
    VocMeanIoU,

    /// <summary>MaskCut boxes, AP at 0.50:0.95.</summary>
    BoxAP,

    /// <summary>MaskCut boxes, AP at 0.50.</summary>
    BoxAP50,

    /// <summary>MaskCut boxes, AP at 0.75.</summary>
    BoxAP75,

    /// <summary>MaskCut masks, AP at 0.50:0.95.</summary>
    MaskAP,

    /// <summary>MaskCut masks, AP at 0.50.</summary>
    MaskAP50,

    /// <summary>MaskCut masks, AP at 0.75.</summary>
    MaskAP75,

    /// <summary>eq. 13–14 under the other thresholding rule.</summary>
    BestHeadMeanIoUOtherRule,

    /// <summary>The merged mask's IoU under the other thresholding rule.</summary>
    MergedMaskIoUOtherRule,

    /// <summary>The permutation control of eq. 13–14: own truth minus another scene's.</summary>
    BestHeadPermutationGap,

    /// <summary>The permutation control of the merged mask's IoU.</summary>
    MergedMaskPermutationGap,
}

/// <summary>Reading and naming <see cref="Metric"/>s.</summary>
public static class Metrics
{
    /// <summary>Every metric, in table order.</summary>
    public static IReadOnlyList<Metric> All { get; } = Enum.GetValues<Metric>();

    /// <summary>The panels of the layer and epoch charts.</summary>
    public static IReadOnlyList<Metric> Plotted { get; } =
    [
        Metric.BestHeadMeanIoU, Metric.BestHeadMeanIoUOtherRule, Metric.BestHeadPermutationGap,
        Metric.MergedMaskIoU, Metric.MergedMaskIoUOtherRule, Metric.MergedMaskPermutationGap,
        Metric.VocMeanIoU, Metric.BoxAP50, Metric.BoxAP,
    ];

    /// <summary>Whether <paramref name="metric"/> is a difference of two scores (in [−1, 1]) rather than a score (in [0, 1]).</summary>
    public static bool IsDifference(Metric metric) => metric is Metric.BestHeadPermutationGap or Metric.MergedMaskPermutationGap;

    /// <summary>The value of <paramref name="metric"/> in <paramref name="layer"/>.</summary>
    public static double Value(LayerResult layer, Metric metric)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return metric switch
        {
            Metric.BestHeadMeanIoU => layer.BestHeadMeanIoU,
            Metric.MergedMaskIoU => layer.MergedMaskIoU,
            Metric.VocMeanIoU => layer.VocMeanIoU,
            Metric.BoxAP => layer.Boxes.AP,
            Metric.BoxAP50 => layer.Boxes.AP50,
            Metric.BoxAP75 => layer.Boxes.AP75,
            Metric.MaskAP => layer.Masks.AP,
            Metric.MaskAP50 => layer.Masks.AP50,
            Metric.MaskAP75 => layer.Masks.AP75,
            Metric.BestHeadMeanIoUOtherRule => layer.OtherRuleBestHeadMeanIoU,
            Metric.MergedMaskIoUOtherRule => layer.OtherRuleMergedMaskIoU,
            Metric.BestHeadPermutationGap => layer.BestHeadPermutationGap,
            Metric.MergedMaskPermutationGap => layer.MergedMaskPermutationGap,
            _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, null),
        };
    }

    /// <summary>A title for charts and tables.</summary>
    public static string Title(Metric metric) => metric switch
    {
        Metric.BestHeadMeanIoU => "Attention mIoU, best head (eq. 13-14)",
        Metric.MergedMaskIoU => "Merged top-P mask IoU (per image)",
        Metric.VocMeanIoU => "Merged mask, VOC devkit mIoU",
        Metric.BoxAP => "MaskCut detection AP",
        Metric.BoxAP50 => "MaskCut detection AP50",
        Metric.BoxAP75 => "MaskCut detection AP75",
        Metric.MaskAP => "MaskCut segmentation AP",
        Metric.MaskAP50 => "MaskCut segmentation AP50",
        Metric.MaskAP75 => "MaskCut segmentation AP75",
        Metric.BestHeadMeanIoUOtherRule => "Attention mIoU, best head (eq. 13-14), other rule",
        Metric.MergedMaskIoUOtherRule => "Merged mask IoU, other rule",
        Metric.BestHeadPermutationGap => "eq. 13-14, own truth minus another scene's",
        Metric.MergedMaskPermutationGap => "Merged mask IoU, own truth minus another scene's",
        _ => metric.ToString(),
    };
}

/// <summary>One layer of one model over its seeds.</summary>
/// <param name="Layer">The layer, 0-based.</param>
/// <param name="Metrics">Each metric's mean and spread.</param>
public sealed record LayerSummary(int Layer, IReadOnlyDictionary<Metric, MeanAndSpread> Metrics);

/// <summary>One epoch end of one model over its seeds: accuracy and the last layer's metrics.</summary>
/// <param name="Epoch">The epoch, 1-based.</param>
/// <param name="Accuracy">Test accuracy.</param>
/// <param name="Metrics">The last measured layer's metrics.</param>
public sealed record EpochSummary(int Epoch, MeanAndSpread Accuracy, IReadOnlyDictionary<Metric, MeanAndSpread> Metrics);

/// <summary>One model over its seeds.</summary>
/// <param name="Model">Its name.</param>
/// <param name="Attention">Its attention block.</param>
/// <param name="Nonlinearity">Its second block.</param>
/// <param name="Runs">How many seeds (or 1 for a given model).</param>
/// <param name="TestAccuracy">Test accuracy (no values for a given model).</param>
/// <param name="TrainingAccuracy">Last-epoch training accuracy.</param>
/// <param name="TrainingLoss">Last-epoch training loss (not a fraction: its mean is the loss itself).</param>
/// <param name="Layers">Per measured layer.</param>
/// <param name="Epochs">Per epoch, when measured.</param>
/// <param name="Role">What the row is.</param>
public sealed record ModelSummary(string Model, string Attention, string Nonlinearity, int Runs, MeanAndSpread TestAccuracy, MeanAndSpread TrainingAccuracy,
    MeanAndSpread TrainingLoss, IReadOnlyList<LayerSummary> Layers, IReadOnlyList<EpochSummary> Epochs, ModelRole Role)
{
    /// <summary>The last measured layer.</summary>
    public LayerSummary LastLayer => Layers[^1];

    /// <summary>The layer of the primary metric: the penultimate measured layer (the last when only one was measured).</summary>
    public LayerSummary PrimaryLayer => Layers.Count >= 2 ? Layers[^2] : Layers[^1];

    /// <summary>Groups <paramref name="results"/> by model (in first-seen order) and summarises each over its seeds.</summary>
    public static IReadOnlyList<ModelSummary> Summarise(IReadOnlyList<ModelResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        return results.GroupBy(r => r.Model).Select(group =>
        {
            ModelResult[] runs = group.ToArray();
            int[] layers = runs[0].Layers.Select(l => l.Layer).ToArray();
            if (runs.Any(r => !r.Layers.Select(l => l.Layer).SequenceEqual(layers)))
                throw new InvalidDataException($"The runs of {group.Key} measured different layers.");
            var layerSummaries = layers.Select((layer, i) => new LayerSummary(layer, Summarise(runs.Select(r => r.Layers[i])))).ToArray();
            var epochs = runs.All(r => r.Epochs is { Count: > 0 })
                ? runs[0].Epochs!.Select(e => e.Epoch).Where(epoch => runs.All(r => r.Epochs!.Any(x => x.Epoch == epoch)))
                    .Select(epoch =>
                    {
                        EpochResult[] at = runs.Select(r => r.Epochs!.First(x => x.Epoch == epoch)).ToArray();
                        return new EpochSummary(epoch, MeanAndSpread.Of(at.Select(a => a.Accuracy)), Summarise(at.Select(a => a.Layers[^1])));
                    }).ToArray()
                : [];
            return new ModelSummary(group.Key, runs[0].Attention, runs[0].Nonlinearity, runs.Length,
                MeanAndSpread.Of(runs.Where(r => r.TestAccuracy is not null).Select(r => r.TestAccuracy!.Value)),
                MeanAndSpread.Of(runs.Where(r => r.FinalTrainingAccuracy is not null).Select(r => r.FinalTrainingAccuracy!.Value)),
                MeanAndSpread.Of(runs.Where(r => r.FinalTrainingLoss is not null).Select(r => r.FinalTrainingLoss!.Value)),
                layerSummaries, epochs, runs[0].Role);
        }).ToArray();
    }

    private static IReadOnlyDictionary<Metric, MeanAndSpread> Summarise(IEnumerable<LayerResult> layers)
    {
        LayerResult[] all = layers.ToArray();
        return Metrics.All.ToDictionary(m => m, m => MeanAndSpread.Of(all.Select(l => Metrics.Value(l, m))));
    }
}
