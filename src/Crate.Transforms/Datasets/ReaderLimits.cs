namespace Crate.Transforms.Datasets;

/// <summary>
/// The default budget of the readers of untrusted files: the dataset readers' <c>MaxPixels</c> options,
/// <see cref="PngLabelMap.Read(string, long)"/> and <see cref="Evaluation.CocoDataset.Load"/>. A header's claimed size is
/// checked against it before anything of that size is decoded or allocated, so a small forged file cannot cost
/// gigabytes.
/// </summary>
public static class ReaderLimits
{
    /// <summary>The default most pixels (width·height) of one image or mask: 8192·8192 (64 Mi pixels: 256 MiB of RGBA,
    /// 64 MiB of mask values). VOC's images are about 500·375, COCO's at most 640 on a side, Cityscapes' 2048·1024.</summary>
    public const long DefaultMaxPixels = 8192L * 8192;
}
