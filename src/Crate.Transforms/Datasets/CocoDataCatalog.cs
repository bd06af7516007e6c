using Crate.Transforms.Evaluation;
using Microsoft.ML;

namespace Crate.Transforms.Datasets;

/// <summary>COCO readers on <c>mlContext.Data</c>.</summary>
public static class CocoDataCatalog
{
    /// <summary>
    /// Reads a COCO instances dataset, annotations/instances_*.json and its image folder, as a lazy IDataView with one
    /// row per image in the file's order (images without objects included): see <see cref="CocoInstancesColumns"/>.
    /// The annotation file is read and checked at once; images are decoded, and masks rasterised, only as rows are read.
    /// </summary>
    /// <param name="catalog">mlContext.Data.</param>
    /// <param name="annotationFile">The instances JSON file.</param>
    /// <param name="imageFolder">The folder the images' file_name values are relative to (e.g. val2017).</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The annotation file, or (unless skipped) an image file, is missing.</exception>
    /// <exception cref="DirectoryNotFoundException">The image folder is missing.</exception>
    /// <exception cref="CocoFormatException">The annotation file is not COCO; the message names the record and key.</exception>
    public static CocoInstancesDataView LoadFromCocoInstances(this DataOperationsCatalog catalog, string annotationFile, string imageFolder,
        CocoInstancesOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new CocoInstancesDataView(CocoDataset.Load(annotationFile), imageFolder, options ?? new CocoInstancesOptions());
    }

    /// <summary>Reads the images of an instances dataset already loaded (<see cref="CocoDataset.Load"/>), which then
    /// also serves as the ground truth of <see cref="CocoEvaluation"/>.</summary>
    /// <inheritdoc cref="LoadFromCocoInstances(DataOperationsCatalog, string, string, CocoInstancesOptions?)"/>
    public static CocoInstancesDataView LoadFromCocoInstances(this DataOperationsCatalog catalog, CocoDataset dataset, string imageFolder,
        CocoInstancesOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new CocoInstancesDataView(dataset, imageFolder, options ?? new CocoInstancesOptions());
    }
}
