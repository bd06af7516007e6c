namespace Crate.Transforms.Datasets;

/// <summary>The columns of the COCO instances reader (<see cref="CocoDataCatalog.LoadFromCocoInstances(Microsoft.ML.DataOperationsCatalog, string, string, CocoInstancesOptions?)"/>),
/// one row per image. Per-object vectors list the image's objects in file order.</summary>
public static class CocoInstancesColumns
{
    /// <summary>Int64: the image's COCO id.</summary>
    public const string ImageId = "ImageId";

    /// <summary>Text: the image file's full path.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary>Image (MLImage, as <c>LoadImages</c> makes): decoded from the file when the row is read.</summary>
    public const string Image = "Image";

    /// <summary>Int32: the image's height in pixels, from the annotation file (the decoded image is checked against it).</summary>
    public const string Height = "Height";

    /// <summary>Int32: the image's width in pixels.</summary>
    public const string Width = "Width";

    /// <summary>Int32: n, the number of objects.</summary>
    public const string ObjectCount = "ObjectCount";

    /// <summary>Vector of Int64, n: the objects' annotation ids.</summary>
    public const string AnnotationIds = "AnnotationIds";

    /// <summary>Vector of Int64, n: the objects' category ids.</summary>
    public const string CategoryIds = "CategoryIds";

    /// <summary>Vector of Text, n: the objects' category names.</summary>
    public const string CategoryNames = "CategoryNames";

    /// <summary>Vector of Double, 4n: each object's box x, y, width, height in pixels, as the file gives it.</summary>
    public const string Boxes = "Boxes";

    /// <summary>Vector of Double, n: each object's area as the file gives it (what COCO's area ranges use).</summary>
    public const string Areas = "Areas";

    /// <summary>Vector of Boolean, n: whether each object is a crowd region.</summary>
    public const string IsCrowd = "IsCrowd";

    /// <summary>Vector of Text, n: each object's mask as a compressed COCO RLE string at the image's size (polygons
    /// rasterised as pycocotools does); <c>RleMask.FromCompressedString(s, Height, Width)</c> reads one back.</summary>
    public const string Segmentations = "Segmentations";

    /// <summary>Vector of Boolean, n·H·W: each object's mask, row-major, one after another.</summary>
    public const string Masks = "Masks";
}
