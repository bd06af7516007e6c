using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;

namespace Crate.Transforms;

/// <summary>
/// Crate.MLNet's read-outs of a trained CRATE (or ViT) on <c>mlContext.Transforms</c>. Each composes after image
/// loading, runs each batch of images through the network once, and outputs typed columns. The model may be
/// trained (<c>CrateClassifierTransformer.Model</c>), loaded (<c>CrateModelFile.Load</c>) or imported
/// (<c>CrateCheckpointImporter.Import</c>).
/// </summary>
public static class CrateTransformsCatalog
{
    /// <summary>Image → patch tokens [N, d], the f⁰ operator.</summary>
    public static CrateReadoutEstimator<CratePatchEmbeddingTransformer> CratePatchEmbedding(this TransformsCatalog catalog,
        CrateModel model, CratePatchEmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var transformer = new CratePatchEmbeddingTransformer(model, options ?? new CratePatchEmbeddingOptions());
        return new(transformer.Options.InputColumnName, transformer.AddOutputColumns, _ => transformer);
    }

    /// <summary>Image → [CLS] attention maps [layers, heads, h, w] (eq. 10).</summary>
    public static CrateReadoutEstimator<CrateAttentionTransformer> CrateAttention(this TransformsCatalog catalog,
        CrateModel model, CrateAttentionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var transformer = new CrateAttentionTransformer(model, options ?? new CrateAttentionOptions());
        return new(transformer.Options.InputColumnName, transformer.AddOutputColumns, _ => transformer);
    }

    /// <summary>Image → coarse segmentation masks from [CLS] attention (Appendix B.3); fitting calibrates the heads when asked.</summary>
    public static CrateReadoutEstimator<CrateSegmentTransformer> CrateSegment(this TransformsCatalog catalog,
        CrateModel model, CrateSegmentOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options ??= new CrateSegmentOptions();
        // The calibrated heads change the HeadMasks size only through their count, which the options fix.
        var prototype = new CrateSegmentTransformer(model, options.CalibrationMaskColumnName is null
            ? options
            : options with { Heads = Enumerable.Range(0, Math.Clamp(options.CalibrationHeadCount, 1, model.Architecture.Heads)).ToArray() });
        return new(options.InputColumnName, prototype.AddOutputColumns, data => CrateSegmentTransformer.Fit(model, options, data));
    }

    /// <summary>Image → PCA RGB map [3, h, w] and foreground mask [h, w] (Appendix B.2), with the basis fitted on the data.</summary>
    public static CrateReadoutEstimator<CratePcaFeaturesTransformer> CratePcaFeatures(this TransformsCatalog catalog,
        CrateModel model, CratePcaFeaturesOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options ??= new CratePcaFeaturesOptions();
        var prototype = new CratePcaFeaturesTransformer(model, options, PcaBasis.Unfitted(model.Architecture.InnerDim));
        return new(options.InputColumnName, prototype.AddOutputColumns, data => CratePcaFeaturesTransformer.Fit(model, options, data));
    }

    /// <summary>Image → up to n object masks with boxes and scores by MaskCut on the head features (Appendix B.4).</summary>
    public static CrateReadoutEstimator<CrateMaskCutTransformer> CrateMaskCut(this TransformsCatalog catalog,
        CrateModel model, CrateMaskCutOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var transformer = new CrateMaskCutTransformer(model, options ?? new CrateMaskCutOptions());
        return new(transformer.Options.InputColumnName, transformer.AddOutputColumns, _ => transformer);
    }
}
