using Crate.Transforms.Onnx;

namespace Crate.Trainers;

/// <summary>ONNX export of a fitted CRATE classifier, with what the classifier knows about its input.</summary>
public static class CrateClassifierOnnxExport
{
    /// <summary>
    /// The export options that reproduce <paramref name="classifier"/>: its input size, its channel normalisation inside
    /// the graph (so the graph takes pixels in [0, 1]) and its label values as class names. Start from these to add
    /// read-outs: <c>classifier.OnnxExportOptions() with { ClsAttentionLayers = [10] }</c>.
    /// </summary>
    public static CrateOnnxExportOptions OnnxExportOptions(this CrateClassifierTransformer classifier)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        CrateClassifierSettings settings = classifier.Settings;
        return new CrateOnnxExportOptions
        {
            ImageHeight = settings.ImageHeight, ImageWidth = settings.ImageWidth, Normalization = settings.Normalization,
            ClassNames = settings.Labels.Values,
        };
    }

    /// <summary>
    /// Writes the classifier's network to <paramref name="path"/> as ONNX, by default with
    /// <see cref="OnnxExportOptions"/>: then <c>ExtractPixels(scaleImage: 1f / 255)</c> followed by
    /// <c>ApplyOnnxModel</c> over the file gives, in the output <see cref="CrateOnnxExporter.ProbabilitiesOutput"/>, the
    /// classifier's Score column for images of the classifier's input size.
    /// </summary>
    public static CrateOnnxModelInfo ExportToOnnx(this CrateClassifierTransformer classifier, string path, CrateOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        return CrateOnnxExporter.Export(classifier.Model, path, options ?? classifier.OnnxExportOptions());
    }
}
