namespace Crate.Transforms.Evaluation;

/// <summary>A box as COCO writes it: [x, y, width, height] in pixels, (x, y) the top-left corner. A box around a mask
/// spans whole pixels: a mask filling columns 3 to 5 has x = 3, width = 3.</summary>
/// <param name="X">Left edge.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Extent to the right.</param>
/// <param name="Height">Extent downwards.</param>
public readonly record struct CocoBox(double X, double Y, double Width, double Height)
{
    /// <summary>Width·Height, the area COCO gives a box detection.</summary>
    public double Area => Width * Height;

    /// <summary>
    /// pycocotools' box overlap (maskApi bbIou): the intersection area i = w·h of the overlap, 0 unless both w and h
    /// are positive, over the union area(d) + area(g) − i, or, when the ground truth is a crowd region, over area(d)
    /// alone (a detection inside a crowd is covered by it, however large the crowd). Computed in the same order of
    /// double operations as maskApi, so the result is the same to the last bit.
    /// </summary>
    /// <param name="detection">The detected box d.</param>
    /// <param name="groundTruth">The ground-truth box g.</param>
    /// <param name="groundTruthIsCrowd">Whether g is a crowd region.</param>
    public static double IntersectionOverUnion(CocoBox detection, CocoBox groundTruth, bool groundTruthIsCrowd)
    {
        double detectionArea = detection.Width * detection.Height;
        double groundTruthArea = groundTruth.Width * groundTruth.Height;
        double width = Math.Min(detection.Width + detection.X, groundTruth.Width + groundTruth.X) - Math.Max(detection.X, groundTruth.X);
        if (width <= 0) return 0;
        double height = Math.Min(detection.Height + detection.Y, groundTruth.Height + groundTruth.Y) - Math.Max(detection.Y, groundTruth.Y);
        if (height <= 0) return 0;
        double intersection = width * height;
        double union = groundTruthIsCrowd ? detectionArea : detectionArea + groundTruthArea - intersection;
        return intersection / union;
    }
}
