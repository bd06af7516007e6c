using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Evaluation;

/// <summary>Detections for COCO evaluation and results files from what the segmentation read-outs produce.</summary>
public static class CocoDetections
{
    /// <summary>
    /// One image's MaskCut objects as detections: the grid masks brought to the image's size by
    /// <see cref="MaskCutResult.Upsample"/> (nearest neighbour, earlier masks subtracted from later ones, masks left
    /// empty dropped), each as an RLE mask with the box around it and the object's score (1 − Ncut/2).
    /// </summary>
    /// <param name="result">MaskCut's output for the image.</param>
    /// <param name="imageId">The image's COCO id.</param>
    /// <param name="imageHeight">The image's height in pixels.</param>
    /// <param name="imageWidth">The image's width in pixels.</param>
    /// <param name="categoryId">The category to report. MaskCut finds objects, not classes, so the default 1 is meant
    /// for class-agnostic evaluation (<see cref="CocoEvaluationOptions.ClassAgnostic"/>), as CutLER evaluates it.</param>
    public static IReadOnlyList<CocoDetection> FromMaskCut(MaskCutResult result, long imageId, int imageHeight, int imageWidth, long categoryId = 1)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Upsample(imageHeight, imageWidth)
            .Select(m => Detection(imageId, categoryId, result.Objects[m.Source].Score, RleMask.FromPixels(m.Mask)))
            .ToList();
    }

    /// <summary>Masks at an image's size, with one score each, as detections (an RLE mask and the box around it).</summary>
    /// <param name="imageId">The image's COCO id.</param>
    /// <param name="masks">The masks, all of the image's size.</param>
    /// <param name="scores">One score per mask.</param>
    /// <param name="categoryId">The category to report; default 1 (see <see cref="FromMaskCut"/>).</param>
    public static IReadOnlyList<CocoDetection> FromMasks(long imageId, IReadOnlyList<BinaryMask> masks, IReadOnlyList<double> scores, long categoryId = 1)
    {
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(scores);
        if (masks.Count != scores.Count)
            throw new ArgumentException($"{masks.Count} masks but {scores.Count} scores.", nameof(scores));
        return masks.Select((m, i) => Detection(imageId, categoryId, scores[i], RleMask.FromPixels(m))).ToList();
    }

    private static CocoDetection Detection(long imageId, long categoryId, double score, RleMask mask) =>
        new(imageId, categoryId, score, mask.BoundingBox(), mask);
}
