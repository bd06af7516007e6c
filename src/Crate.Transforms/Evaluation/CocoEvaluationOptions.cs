namespace Crate.Transforms.Evaluation;

/// <summary>Settings of <see cref="CocoEvaluation"/>. The defaults are COCO's standard evaluation.</summary>
public sealed record CocoEvaluationOptions
{
    /// <summary>
    /// Ignore categories: every object of an image is a candidate for every detection of that image, as pycocotools
    /// does with useCats = 0 and as CutLER scores MaskCut's class-free objects. Objects and detections are pooled per
    /// image in pycocotools' order (by category id, then file order), which only matters for ties. Detection category
    /// ids are not checked (pycocotools would drop ids the ground truth lacks; we keep them, after the others).
    /// <see cref="CocoMetrics.PerCategoryAP"/> is then empty. Default false.
    /// </summary>
    public bool ClassAgnostic { get; init; }

    /// <summary>
    /// Skip detections for an image or category the ground truth lacks, or whose mask has the wrong size, instead of
    /// failing. Each one skipped is counted in <see cref="CocoMetrics.SkippedDetections"/> and reported to
    /// <see cref="Log"/>. Default false: such a detection is an error.
    /// </summary>
    public bool SkipInvalidDetections { get; init; }

    /// <summary>Receives one line per skipped detection. Default null.</summary>
    public Action<string>? Log { get; init; }
}
