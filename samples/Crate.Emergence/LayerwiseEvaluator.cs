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
/// paper's eq. 13–14, by the merged mask's IoU with all objects and by the VOC devkit's mIoU; and CrateMaskCut on ℓ's
/// head features scored by class-agnostic COCO AP for boxes and masks.
/// </summary>
public sealed class LayerwiseEvaluator(MLContext context, EvaluationData data, MeasurementSettings settings)
{
    private const string MergedMaskColumn = "MergedMask";

    /// <summary>Every measured layer of <paramref name="network"/>; <paramref name="onLayer"/> is called after each.</summary>
    public IReadOnlyList<LayerResult> Evaluate(CrateNetworkSource network, Action<int>? onLayer = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        CrateArchitecture architecture = network.Architecture;
        var results = new List<LayerResult>();
        foreach (int layer in Layers(architecture))
        {
            results.Add(EvaluateLayer(network, architecture, layer));
            onLayer?.Invoke(layer);
        }
        return results;
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

    private LayerResult EvaluateLayer(CrateNetworkSource network, CrateArchitecture architecture, int layer)
    {
        int side = settings.InputSize ?? architecture.ImageHeight;
        int sideWidth = settings.InputSize ?? architecture.ImageWidth;
        int gridHeight = side / architecture.PatchSize, gridWidth = sideWidth / architecture.PatchSize;

        // Coarse segmentation from [CLS] attention (Appendix B.3): one network pass, kept in memory for the three scores.
        var segment = new CrateSegmentOptions
        {
            Layer = layer, Rule = settings.Rule, Fraction = settings.Fraction, Resolution = MaskResolution.Grid,
            ImageHeight = settings.InputSize, ImageWidth = settings.InputSize, BatchSize = settings.BatchSize, Device = settings.Device,
        };
        BestHeadSegmentationMetrics bestHead;
        BestHeadSegmentationMetrics merged;
        SemanticSegmentationMetrics voc;
        using (var segmenter = context.Transforms.CrateSegment(network, segment).Fit(data.View))
        {
            IDataView scored = segmenter.Transform(data.View);
            // The merged mask as a one-"head" stack [1, h, w], the shape the head-based evaluators read.
            var mergedSchema = SchemaDefinition.Create(typeof(MergedMask));
            mergedSchema[MergedMaskColumn].ColumnType = new VectorDataViewType(BooleanDataViewType.Instance, 1, gridHeight, gridWidth);
            IDataView withMerged = context.Transforms.CustomMapping<SegmentMask, MergedMask>((input, output) => output.Merged = input.Mask, contractName: null,
                outputSchemaDefinition: mergedSchema).Fit(scored).Transform(scored);
            IDataView cached = context.Data.Cache(context.Transforms.DropColumns("Image").Fit(withMerged).Transform(withMerged));
            var evaluation = new SegmentationEvaluationOptions { IgnoreLabel = EvaluationData.IgnoreLabel, SkipImagesWithoutClasses = true };
            bestHead = context.MulticlassClassification.EvaluateBestHeadSegmentation(cached, data.ClassCount, "ClassMap", "HeadMasks", evaluation);
            merged = context.MulticlassClassification.EvaluateForegroundJaccard(cached, 2, "Foreground", MergedMaskColumn, evaluation);
            voc = context.MulticlassClassification.EvaluateSegmentation(cached, 2, "Foreground", "PredictedMask", evaluation);
        }

        // MaskCut on the layer's head features (Appendix B.4), every image's objects as class-agnostic detections.
        var cut = new CrateMaskCutOptions
        {
            Layer = layer, Cut = settings.Cut, ImageHeight = side, ImageWidth = sideWidth, BatchSize = settings.BatchSize, Device = settings.Device,
        };
        var detections = new List<CocoDetection>();
        using (var maskCut = context.Transforms.CrateMaskCut(network, cut).Fit(data.View))
        {
            int row = 0;
            foreach (MaskCutPrediction image in context.Data.CreateEnumerable<MaskCutPrediction>(maskCut.Transform(data.View), reuseRowObject: false))
            {
                IReadOnlyList<MaskCutDetection> found = image.Objects();
                detections.AddRange(CocoDetections.FromMasks(data.ImageIds[row++], found.Select(f => f.Mask).ToList(),
                    found.Select(f => (double)f.Score).ToList()));
            }
        }
        var agnostic = new CocoEvaluationOptions { ClassAgnostic = true };
        CocoMetrics boxes = CocoEvaluation.Evaluate(data.Truth, detections, CocoIouType.BoundingBox, agnostic);
        CocoMetrics masks = CocoEvaluation.Evaluate(data.Truth, detections, CocoIouType.Segmentation, agnostic);
        return new LayerResult(layer, bestHead.MeanIntersectionOverUnion, merged.MeanIntersectionOverUnion, voc.PresentClassesMeanIntersectionOverUnion,
            CocoNumbers.From(boxes), CocoNumbers.From(masks), bestHead.BestHeadCounts[^1]);
    }

    private sealed class SegmentMask
    {
        [ColumnName("PredictedMask")]
        public bool[] Mask { get; set; } = [];
    }

    private sealed class MergedMask
    {
        [ColumnName(MergedMaskColumn)]
        public bool[] Merged { get; set; } = [];
    }
}
