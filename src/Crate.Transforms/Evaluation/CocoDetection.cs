namespace Crate.Transforms.Evaluation;

/// <summary>
/// One detected object, as a line of COCO's results format: the image and category it is for, a confidence score, and
/// a box, a mask or both. Box evaluation needs <see cref="Box"/> (or takes the box around <see cref="Mask"/>); mask
/// evaluation needs <see cref="Mask"/>, at its image's size.
/// </summary>
/// <param name="ImageId">"image_id": an image of the ground truth.</param>
/// <param name="CategoryId">"category_id": a category of the ground truth (any value in class-agnostic evaluation).</param>
/// <param name="Score">"score": detections are ranked by it, highest first, ties kept in the order given.</param>
/// <param name="Box">"bbox", or null.</param>
/// <param name="Mask">"segmentation", or null.</param>
public sealed record CocoDetection(long ImageId, long CategoryId, double Score, CocoBox? Box = null, RleMask? Mask = null)
{
    /// <summary>
    /// The area that places the detection in the small, medium or large range when it is not matched; null to take,
    /// as detectron2 does, the box's area in box evaluation and the mask's in mask evaluation. Results files read by
    /// <see cref="CocoResultsFile.Read(string, CocoDataset)"/> carry the area pycocotools' loadRes gives them, which differs for masks
    /// (see there).
    /// </summary>
    public double? Area { get; init; }
}
