using Crate.Transforms.MLNet;

namespace Crate.Transforms.Onnx;

/// <summary>What <see cref="CrateOnnxExporter"/> puts into the ONNX graph besides the logits.</summary>
public sealed record CrateOnnxExportOptions
{
    /// <summary>
    /// Input image height the graph is made for; null for the model's own. The positional embedding is resized to
    /// the grid at export, exactly as the TorchSharp network resizes it (bicubic). Must be a multiple of the patch
    /// size, and null when <see cref="DynamicImageSize"/> is set. Default null.
    /// </summary>
    public int? ImageHeight { get; init; }

    /// <summary>Input image width the graph is made for; null for the model's own. Default null.</summary>
    public int? ImageWidth { get; init; }

    /// <summary>
    /// When true, the input's height and width are symbolic and the graph resizes the positional embedding to each
    /// input's grid with ONNX's cubic Resize (coefficient −0.75, half-pixel coordinates: PyTorch's bicubic with
    /// align_corners false). Measured against our bicubic: equal up to float32 rounding (docs/onnx.md). Inputs must
    /// still be multiples of the patch size. ML.NET's ApplyOnnxModel then needs the size in its shape dictionary.
    /// Default false.
    /// </summary>
    public bool DynamicImageSize { get; init; }

    /// <summary>
    /// Layers (0-based, in output order) whose [CLS] attention maps (eq. 10) become the output
    /// <see cref="CrateOnnxExporter.ClsAttentionOutput"/>, [batch, layers, heads, h, w]: row 0 of each head's
    /// attention restricted to the patch columns and renormalised. Empty for no such output. Default empty.
    /// </summary>
    public IReadOnlyList<int> ClsAttentionLayers { get; init; } = [];

    /// <summary>
    /// The layer (0-based) whose head features become the output <see cref="CrateOnnxExporter.HeadFeaturesOutput"/>,
    /// [batch, N+1, K·p] with the [CLS] token first: the concatenated U_k*z of MSSA (what PCA and MaskCut read),
    /// the keys for ViT's attention. Null for no such output. Default null.
    /// </summary>
    public int? HeadFeaturesLayer { get; init; }

    /// <summary>
    /// When set, the graph takes RGB pixels in [0, 1] and normalises them itself, (x − mean) / std per channel, so
    /// an ML.NET pipeline needs only ExtractPixels(scaleImage: 1/255) before ApplyOnnxModel (ExtractPixels has one
    /// offset and scale for all channels). Null when the caller feeds normalised images. Default null.
    /// </summary>
    public ImageNormalization? Normalization { get; init; }

    /// <summary>The class names in class order, recorded in the model's metadata; null for none. Default null.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
}
