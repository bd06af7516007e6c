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

    /// <summary>Unlabelled images of a folder and its subfolders, to segment (see <see cref="ImageFolder"/>).</summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="root">The folder.</param>
    /// <param name="options">Default <see cref="ImageFolderOptions"/>' defaults.</param>
    /// <exception cref="DirectoryNotFoundException">The folder is missing.</exception>
    /// <exception cref="InvalidDataException">It holds no image, or two images of one name.</exception>
    public static IDataView LoadImageFolder(this DataOperationsCatalog catalog, string root, ImageFolderOptions? options = null) =>
        ImageFolder.Load(MLNetInternals.EnvironmentOf(catalog), root, options ?? new ImageFolderOptions());

    /// <summary>
    /// COCO instances: annotations/instances_*.json and its image folder, one row per image with its objects' ids,
    /// categories, boxes, areas, crowd flags and masks (columns in <see cref="CocoInstances"/>).
    /// </summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="annotationFile">The instances JSON file.</param>
    /// <param name="imageFolder">The folder the images' file_name values are relative to (e.g. val2017).</param>
    /// <param name="options">Default <see cref="CocoInstancesOptions"/>' defaults.</param>
    /// <exception cref="FileNotFoundException">The annotation file, or (unless skipped) an image file, is missing.</exception>
    /// <exception cref="DirectoryNotFoundException">The image folder is missing.</exception>
    /// <exception cref="Evaluation.CocoFormatException">The annotation file is not COCO; the message names the record and key.</exception>
    public static IDataView LoadCocoInstances(this DataOperationsCatalog catalog, string annotationFile, string imageFolder, CocoInstancesOptions? options = null) =>
        LoadCocoInstances(catalog, Evaluation.CocoDataset.Load(annotationFile, (options ?? new CocoInstancesOptions()).MaxPixels), imageFolder, options);

    /// <summary>COCO instances from a dataset already loaded (<see cref="Evaluation.CocoDataset.Load"/>), which then also
    /// serves as the ground truth of <see cref="Evaluation.CocoEvaluation"/>.</summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="dataset">The annotation file's content.</param>
    /// <param name="imageFolder">The folder the images' file_name values are relative to.</param>
    /// <param name="options">Default <see cref="CocoInstancesOptions"/>' defaults.</param>
    /// <exception cref="FileNotFoundException">An image file is missing (unless skipped).</exception>
    /// <exception cref="DirectoryNotFoundException">The image folder is missing.</exception>
    public static IDataView LoadCocoInstances(this DataOperationsCatalog catalog, Evaluation.CocoDataset dataset, string imageFolder,
        CocoInstancesOptions? options = null) =>
        CocoInstances.Load(MLNetInternals.EnvironmentOf(catalog), dataset, imageFolder, options ?? new CocoInstancesOptions());

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
