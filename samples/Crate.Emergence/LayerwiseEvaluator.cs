using Crate.Transforms;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence;

/// <summary>
/// Measures one network layer by layer on an <see cref="EvaluationData"/>, through the library's read-outs and
/// evaluators: per layer ℓ, CrateSegment (the [CLS] attention of ℓ thresholded per head and merged) scored by the
/// paper's eq. 13–14, by the merged mask's IoU with all objects and by the VOC devkit's mIoU (<see cref="MaskScorer"/>),
/// under the measurement's thresholding rule and the other one, with the permutation control (the same masks against
/// another image's truth); and CrateMaskCut on ℓ's head features scored by class-agnostic COCO AP for boxes and masks.
/// The controls that ignore the image (<see cref="PositionControls"/>) are scored by the same scorer.
/// </summary>
public sealed class LayerwiseEvaluator(MLContext context, EvaluationData data, MeasurementSettings settings)
{
    private MaskScorer? scorer;

    /// <summary>The scorer of masks against the data's truth (read once, on first use).</summary>
    public MaskScorer Scorer => scorer ??= new MaskScorer(context, MaskScorer.ReadTruth(context, data.View), data.ClassCount);

    /// <summary>The rule the report sets beside the measurement's: DINO's for the paper's, and the reverse.</summary>
    public MaskRule OtherRule => settings.Rule == MaskRule.TopFraction ? MaskRule.CumulativeMass : MaskRule.TopFraction;

    /// <summary>Every measured layer of <paramref name="network"/>; <paramref name="onLayer"/> is called after each.</summary>
    /// <remarks>
    /// <paramref name="readouts"/>, when given, supplies each layer's read-outs instead of the network (a merge of
    /// shards, <see cref="EmergenceShards"/>); the scores are made from them by the same code either way.
    /// </remarks>
    public IReadOnlyList<LayerResult> Evaluate(CrateNetworkSource network, Action<int>? onLayer = null, Func<int, LayerReadouts>? readouts = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        CrateArchitecture architecture = network.Architecture;
        var results = new List<LayerResult>();
        foreach (int layer in Layers(architecture))
        {
            results.Add(Score(architecture, layer, readouts?.Invoke(layer) ?? Readouts(network, architecture, layer)));
            onLayer?.Invoke(layer);
        }
        return results;
    }

    /// <summary>
    /// The controls (<see cref="PositionControl"/>) as rows of the report: scored by the same evaluators under both
    /// rules, with the permutation control, on the grid of <paramref name="architecture"/>; the same numbers at every
    /// measured layer (they draw as flat lines on the layer chart), and no MaskCut.
    /// </summary>
    public IReadOnlyList<ModelResult> Controls(CrateArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        (int gridHeight, int gridWidth) = Grid(architecture);
        var none = new CocoNumbers(double.NaN, double.NaN, double.NaN, double.NaN);
        IReadOnlyList<int> layers = Layers(architecture);
        var rows = new List<ModelResult>();
        foreach (PositionControl control in Enum.GetValues<PositionControl>())
        {
            if (control == PositionControl.FittedMask && Scorer.Truth.Count < 2) continue;
            (IReadOnlyList<GridMasks> masks, int heads) = PositionControls.Masks(control, settings.Rule, settings.Fraction, Scorer.Truth, data.ClassCount,
                architecture.Heads, gridHeight, gridWidth);
            (IReadOnlyList<GridMasks> otherMasks, int otherHeads) = PositionControls.Masks(control, OtherRule, settings.Fraction, Scorer.Truth, data.ClassCount,
                architecture.Heads, gridHeight, gridWidth);
            (AttentionScores own, AttentionScores other, AttentionScores permuted) = ScoreAll(masks, heads, otherMasks, otherHeads, gridHeight, gridWidth);
            LayerResult[] perLayer = layers.Select(layer => Result(layer, own, other, permuted, none, none)).ToArray();
            rows.Add(new ModelResult(PositionControls.Name(control), "control", "control", null, null, null, null, 0, 0, 0, 0, perLayer, null, ModelRole.Control));
        }
        return rows;
    }

    /// <summary>The layers measured for <paramref name="architecture"/>: the settings' (checked), or all.</summary>
    public IReadOnlyList<int> Layers(CrateArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        IReadOnlyList<int> layers = settings.Layers ?? Enumerable.Range(0, architecture.Depth).ToArray();
        foreach (int layer in layers)
            if (layer < 0 || layer >= architecture.Depth)
                throw new ArgumentOutOfRangeException(nameof(settings), layer, $"Layer {layer} does not exist: the model has layers 0–{architecture.Depth - 1}.");
        return layers;
    }

    private (int Height, int Width) Grid(CrateArchitecture architecture) =>
        ((settings.InputSize ?? architecture.ImageHeight) / architecture.PatchSize, (settings.InputSize ?? architecture.ImageWidth) / architecture.PatchSize);

    private (AttentionScores Own, AttentionScores Other, AttentionScores Permuted) ScoreAll(IReadOnlyList<GridMasks> masks, int heads,
        IReadOnlyList<GridMasks> otherMasks, int otherHeads, int gridHeight, int gridWidth)
    {
        AttentionScores own = Scorer.Score(masks, heads, gridHeight, gridWidth);
        AttentionScores other = Scorer.Score(otherMasks, otherHeads, gridHeight, gridWidth);
        AttentionScores permuted = masks.Count < 2
            ? new AttentionScores(double.NaN, double.NaN, double.NaN, [])
            : Scorer.Score(masks, heads, gridHeight, gridWidth, MaskScorer.Shifted(masks.Count));
        return (own, other, permuted);
    }

    private static LayerResult Result(int layer, AttentionScores own, AttentionScores other, AttentionScores permuted, CocoNumbers boxes, CocoNumbers masks) =>
        new(layer, own.BestHeadMeanIoU, own.MergedMaskIoU, own.VocMeanIoU, boxes, masks, own.BestHeadCounts, other.BestHeadMeanIoU, other.MergedMaskIoU,
            own.BestHeadMeanIoU - permuted.BestHeadMeanIoU, own.MergedMaskIoU - permuted.MergedMaskIoU);

    /// <summary>
    /// The layer's head masks and merged mask of every image under <paramref name="rule"/>: CrateSegment (the [CLS]
    /// attention of the layer thresholded per head and merged) at grid resolution.
    /// </summary>
    private IReadOnlyList<GridMasks> Readout(CrateNetworkSource network, int layer, MaskRule rule)
    {
        var segment = new CrateSegmentOptions
        {
            Layer = layer, Rule = rule, Fraction = settings.Fraction, Resolution = MaskResolution.Grid,
            ImageHeight = settings.InputSize, ImageWidth = settings.InputSize, BatchSize = settings.BatchSize, Device = settings.Device,
        };
        using var segmenter = context.Transforms.CrateSegment(network, segment).Fit(data.View);
        return context.Data.CreateEnumerable<SegmentMasks>(segmenter.Transform(data.View), reuseRowObject: false)
            .Select(r => new GridMasks(r.HeadMasks, r.Mask)).ToArray();
    }

    /// <summary>
    /// What the network says about every image of the data at <paramref name="layer"/>, in row order: CrateSegment's
    /// head and merged masks under the measurement's rule and the other one (grid resolution), and MaskCut's objects on
    /// the layer's head features (Appendix B.4). Every metric of the layer is a function of these and the truth.
    /// </summary>
    public LayerReadouts Readouts(CrateNetworkSource network, CrateArchitecture architecture, int layer)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        var cut = new CrateMaskCutOptions
        {
            Layer = layer, Cut = settings.Cut, ImageHeight = settings.InputSize ?? architecture.ImageHeight, ImageWidth = settings.InputSize ?? architecture.ImageWidth,
            BatchSize = settings.BatchSize, Device = settings.Device,
        };
        var objects = new List<IReadOnlyList<(BinaryMask Mask, double Score)>>();
        using (var maskCut = context.Transforms.CrateMaskCut(network, cut).Fit(data.View))
            foreach (MaskCutPrediction image in context.Data.CreateEnumerable<MaskCutPrediction>(maskCut.Transform(data.View), reuseRowObject: false))
                objects.Add(image.Objects().Select(f => (f.Mask, (double)f.Score)).ToArray());
        return new LayerReadouts(Readout(network, layer, settings.Rule), Readout(network, layer, OtherRule), objects);
    }

    /// <summary>The layer's metrics from its read-outs: eq. 13–14 and the foreground metrics under both rules, the permutation control, class-agnostic COCO AP.</summary>
    public LayerResult Score(CrateArchitecture architecture, int layer, LayerReadouts readouts)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(readouts);
        (int gridHeight, int gridWidth) = Grid(architecture);
        (AttentionScores own, AttentionScores other, AttentionScores permuted) = ScoreAll(readouts.Masks, architecture.Heads,
            readouts.OtherMasks, architecture.Heads, gridHeight, gridWidth);
        var detections = new List<CocoDetection>();
        for (int row = 0; row < readouts.Objects.Count; row++)
            detections.AddRange(CocoDetections.FromMasks(data.ImageIds[row], readouts.Objects[row].Select(o => o.Mask).ToList(),
                readouts.Objects[row].Select(o => o.Score).ToList()));
        var agnostic = new CocoEvaluationOptions { ClassAgnostic = true };
        CocoMetrics boxes = CocoEvaluation.Evaluate(data.Truth, detections, CocoIouType.BoundingBox, agnostic);
        CocoMetrics masks = CocoEvaluation.Evaluate(data.Truth, detections, CocoIouType.Segmentation, agnostic);
        return Result(layer, own, other, permuted, CocoNumbers.From(boxes), CocoNumbers.From(masks));
    }

    private sealed class SegmentMasks
    {
        [ColumnName("PredictedMask")]
        public bool[] Mask { get; set; } = [];

        public bool[] HeadMasks { get; set; } = [];
    }
}

/// <summary>
/// One layer's read-outs of every image, in the data's row order: CrateSegment's masks under the measurement's rule
/// (<see cref="Masks"/>) and the other (<see cref="OtherMasks"/>), and MaskCut's objects with their scores.
/// </summary>
public sealed record LayerReadouts(IReadOnlyList<GridMasks> Masks, IReadOnlyList<GridMasks> OtherMasks, IReadOnlyList<IReadOnlyList<(BinaryMask Mask, double Score)>> Objects);
