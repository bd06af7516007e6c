using Crate.Transforms.MLNet;
using Microsoft.ML;

namespace Crate.Transforms.Datasets;

/// <summary>
/// Dataset readers and the mask writer on <c>mlContext.Data</c>, beside ML.NET's <c>LoadFromTextFile</c> and
/// <c>SaveAsText</c>. Readers return lazy IDataViews: listing the files happens here, decoding when a cursor reads a
/// row, so a dataset of any size is read in the memory of one row.
/// </summary>
public static class DatasetCatalog
{
    /// <summary>
    /// PASCAL VOC 2012 segmentation: the images of <paramref name="split"/> with class masks, instance masks, their
    /// classes and boxes (columns in <see cref="VocSegmentation"/>).
    /// </summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="root">The VOC2012 folder (the one holding JPEGImages, SegmentationClass, SegmentationObject, ImageSets).</param>
    /// <param name="split">The split file's name in ImageSets/Segmentation: "train", "val" or "trainval". Default "val".</param>
    /// <param name="options">Default <see cref="VocSegmentationOptions"/>' defaults.</param>
    /// <exception cref="DirectoryNotFoundException">A folder of the layout is missing.</exception>
    /// <exception cref="FileNotFoundException">The split file, or a file of a listed image, is missing.</exception>
    public static IDataView LoadVocSegmentation(this DataOperationsCatalog catalog, string root, string split = "val", VocSegmentationOptions? options = null) =>
        VocSegmentation.Load(MLNetInternals.EnvironmentOf(catalog), root, split, options ?? new VocSegmentationOptions());

    /// <summary>Users' own segmentation data: <c>images/</c> and <c>masks/</c> side by side (see <see cref="ImageFolderSegmentation"/>).</summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="root">The folder holding images/ and masks/.</param>
    /// <param name="options">Default <see cref="ImageFolderSegmentationOptions"/>' defaults.</param>
    public static IDataView LoadSegmentationFolder(this DataOperationsCatalog catalog, string root, ImageFolderSegmentationOptions? options = null) =>
        ImageFolderSegmentation.Load(MLNetInternals.EnvironmentOf(catalog), root, options ?? new ImageFolderSegmentationOptions());

    /// <summary>Images in one folder per class (see <see cref="ImageFolderClassification"/>).</summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="root">The folder holding one folder per class.</param>
    /// <param name="options">Default <see cref="ImageFolderClassificationOptions"/>' defaults.</param>
    public static IDataView LoadClassificationFolder(this DataOperationsCatalog catalog, string root, ImageFolderClassificationOptions? options = null) =>
        ImageFolderClassification.Load(MLNetInternals.EnvironmentOf(catalog), root, options ?? new ImageFolderClassificationOptions());

    /// <summary>
    /// Writes each row's mask (CrateSegment's Mask, or any label map) as <c>&lt;directory&gt;/&lt;name&gt;.png</c>, an 8-bit
    /// palette PNG by default (the VOC devkit's results format); see <see cref="PngMaskWriter"/>. Returns the paths written.
    /// </summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="data">Rows with a mask column.</param>
    /// <param name="directory">Where the PNGs go; created when missing.</param>
    /// <param name="maskColumnName">The mask column. Default "PredictedMask".</param>
    /// <param name="nameColumnName">A text column naming each file (without ".png"); null to number the files 000000, 000001, …. Default "Name".</param>
    /// <param name="options">Palette, output size, overwriting. Default <see cref="PngMaskWriterOptions"/>' defaults.</param>
    public static IReadOnlyList<string> SaveAsPngMasks(this DataOperationsCatalog catalog, IDataView data, string directory,
        string maskColumnName = "PredictedMask", string? nameColumnName = "Name", PngMaskWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return PngMaskWriter.Write(data, directory, maskColumnName, nameColumnName, options ?? new PngMaskWriterOptions());
    }
}
