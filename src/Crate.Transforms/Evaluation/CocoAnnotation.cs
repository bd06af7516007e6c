namespace Crate.Transforms.Evaluation;

/// <summary>A ground-truth object of a COCO instances file.</summary>
/// <param name="Id">"id". pycocotools records a detection's match by this id and reads 0 as "no match", so a
/// ground truth with id 0 cannot produce a true positive there; we reproduce that (real COCO ids start at 1).</param>
/// <param name="ImageId">"image_id".</param>
/// <param name="CategoryId">"category_id".</param>
/// <param name="Box">"bbox": what box evaluation compares with.</param>
/// <param name="Area">"area": what places the object in the small, medium or large range (COCO's file value, not
/// recomputed, as pycocotools does).</param>
/// <param name="IsCrowd">"iscrowd": a crowd region; matches to it are ignored, and overlap with it is measured
/// against the detection alone. pycocotools replaces any "ignore" field with this flag, so we do not read "ignore".</param>
/// <param name="Segmentation">"segmentation": what mask evaluation compares with; null when the file gives none.</param>
public sealed record CocoAnnotation(long Id, long ImageId, long CategoryId, CocoBox Box, double Area, bool IsCrowd, CocoSegmentation? Segmentation)
{
    /// <summary>A ground truth from a mask over its image: the box around it (<see cref="RleMask.BoundingBox"/>), its
    /// pixel count as the area, and the mask as the segmentation.</summary>
    public static CocoAnnotation FromMask(long id, long imageId, long categoryId, RleMask mask, bool isCrowd = false)
    {
        ArgumentNullException.ThrowIfNull(mask);
        return new CocoAnnotation(id, imageId, categoryId, mask.BoundingBox(), mask.Area, isCrowd, CocoSegmentation.FromRle(mask));
    }
}
