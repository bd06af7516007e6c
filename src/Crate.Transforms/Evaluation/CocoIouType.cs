namespace Crate.Transforms.Evaluation;

/// <summary>What COCO evaluation compares detections and ground truth by (pycocotools' iouType).</summary>
public enum CocoIouType
{
    /// <summary>Box overlap ("bbox"): <see cref="CocoBox.IntersectionOverUnion"/>.</summary>
    BoundingBox,

    /// <summary>Mask overlap ("segm"): <see cref="RleMask.IntersectionOverUnion"/>.</summary>
    Segmentation,
}
