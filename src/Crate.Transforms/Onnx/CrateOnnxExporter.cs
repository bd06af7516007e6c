using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Google.Protobuf;
using Onnx;

namespace Crate.Transforms.Onnx;

/// <summary>
/// Exports a <see cref="CrateModel"/> of any variant to an ONNX model (opset 17) for ONNX Runtime, ML.NET's
/// ApplyOnnxModel or any other ONNX consumer. The graph takes <see cref="ImageInput"/> [batch, C, H, W] float32
/// (normalised images, or pixels in [0, 1] when the options put the normalisation inside) and gives
/// <see cref="LogitsOutput"/> and <see cref="ProbabilitiesOutput"/> [batch, classes], and on request
/// <see cref="ClsAttentionOutput"/> and <see cref="HeadFeaturesOutput"/>. The batch size is dynamic; the image size
/// is fixed at export unless <see cref="CrateOnnxExportOptions.DynamicImageSize"/> is set. Weights are stored as
/// float32 whatever the model's precision or device. The export is recorded in the model's metadata_props
/// (<see cref="CrateOnnxModelInfo"/>).
/// </summary>
public static class CrateOnnxExporter
{
    /// <summary>The graph input: images [batch, C, H, W].</summary>
    public const string ImageInput = "image";

    /// <summary>The graph output of class scores before softmax, [batch, classes].</summary>
    public const string LogitsOutput = "logits";

    /// <summary>The graph output of class probabilities (softmax of the logits), [batch, classes].</summary>
    public const string ProbabilitiesOutput = "probabilities";

    /// <summary>The graph output of [CLS] attention maps (eq. 10), [batch, layers, heads, h, w].</summary>
    public const string ClsAttentionOutput = "cls_attention";

    /// <summary>The graph output of one layer's head features, [batch, N+1, K·p], [CLS] first.</summary>
    public const string HeadFeaturesOutput = "head_features";

    /// <summary>The ONNX opset of the graph: 17, the first with LayerNormalization.</summary>
    public const int OpsetVersion = 17;

    // IR version 8 is the one that came with opset 17.
    private const long IrVersion = 8;

    // A protobuf message cannot exceed 2 GiB; weights beyond that would need ONNX's external-data layout.
    internal const long MaxInitializerBytes = int.MaxValue - (64L << 20);

    /// <summary>
    /// Writes <paramref name="model"/> as an ONNX model to <paramref name="path"/>, replacing any file there only once
    /// the new one is complete, and returns what was recorded in its metadata.
    /// </summary>
    /// <exception cref="ArgumentException">An option does not fit the model (the message names it).</exception>
    /// <exception cref="NotSupportedException">The model's variant or pooling is not one this exporter knows, or
    /// its weights exceed protobuf's 2 GiB.</exception>
    /// <exception cref="IOException">The file cannot be written (the message names the path).</exception>
    public static CrateOnnxModelInfo Export(CrateModel model, string path, CrateOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
            throw new IOException($"Cannot write the ONNX model to '{path}': it is a directory.");
        string folder = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot write the ONNX model to '{path}': the folder '{folder}' does not exist.");
        (ModelProto onnx, CrateOnnxModelInfo info) = Build(model, options);
        string temporary = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                onnx.WriteTo(file);
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot write the ONNX model to '{path}': {e.Message}", e);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
        return info;
    }

    /// <summary>Writes <paramref name="model"/> as an ONNX model to <paramref name="destination"/> (as ML.NET's modelBytes take it).</summary>
    /// <exception cref="ArgumentException">An option does not fit the model.</exception>
    /// <exception cref="NotSupportedException">As <see cref="Export(CrateModel, string, CrateOnnxExportOptions?)"/>.</exception>
    public static CrateOnnxModelInfo Export(CrateModel model, Stream destination, CrateOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(destination);
        (ModelProto onnx, CrateOnnxModelInfo info) = Build(model, options);
        onnx.WriteTo(destination);
        return info;
    }

    private static (ModelProto Model, CrateOnnxModelInfo Info) Build(CrateModel model, CrateOnnxExportOptions? options)
    {
        CrateArchitecture architecture = model.Architecture;
        CrateOnnxExportOptions resolved = Resolve(architecture, options ?? new CrateOnnxExportOptions());
        EnsureFitsProtobuf(model.ParameterCount * sizeof(float));
        GraphProto graph = CrateOnnxGraph.Build(model, resolved, out long initializerBytes);
        EnsureFitsProtobuf(initializerBytes);
        var info = new CrateOnnxModelInfo
        {
            Architecture = architecture, Options = resolved, OpsetVersion = OpsetVersion,
            CrateVersion = CrateModelFile.InformationalVersion(typeof(CrateOnnxExporter).Assembly),
        };
        var onnx = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "Crate.MLNet", ProducerVersion = info.CrateVersion, ModelVersion = 1, Graph = graph,
            DocString = $"CRATE ({architecture.Variant}, d {architecture.EmbeddingDim}, {architecture.Depth} layers of {architecture.Heads} heads, " +
                $"patch {architecture.PatchSize}) exported by Crate.MLNet. Outputs: {string.Join(", ", info.OutputNames)}.",
        };
        onnx.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        onnx.MetadataProps.Add(info.ToMetadata());
        return (onnx, info);
    }

    /// <summary>Checks <paramref name="options"/> against the architecture and fills in the image size.</summary>
    private static CrateOnnxExportOptions Resolve(CrateArchitecture a, CrateOnnxExportOptions options)
    {
        if (!Enum.IsDefined(a.Variant))
            throw new NotSupportedException($"The model's variant {a.Variant} is not one the ONNX exporter knows ({string.Join(", ", Enum.GetNames<CrateVariant>())}).");
        if (!Enum.IsDefined(a.Pooling))
            throw new NotSupportedException($"The model's pooling {a.Pooling} is not one the ONNX exporter knows ({string.Join(", ", Enum.GetNames<TokenPooling>())}).");
        int p = a.PatchSize;
        if (options.DynamicImageSize && (options.ImageHeight is not null || options.ImageWidth is not null))
            throw new ArgumentException(
                "CrateOnnxExportOptions: DynamicImageSize takes the size from each input; leave ImageHeight and ImageWidth null.", nameof(options));
        int? height = options.DynamicImageSize ? null : options.ImageHeight ?? a.ImageHeight;
        int? width = options.DynamicImageSize ? null : options.ImageWidth ?? a.ImageWidth;
        foreach ((string field, int? size) in new[] { ("ImageHeight", height), ("ImageWidth", width) })
            if (size is int s && (s < p || s % p != 0))
                throw new ArgumentException($"CrateOnnxExportOptions.{field} {s} must be a positive multiple of the patch size {p}.", nameof(options));
        ArgumentNullException.ThrowIfNull(options.ClsAttentionLayers, nameof(options.ClsAttentionLayers));
        foreach (int layer in options.ClsAttentionLayers.Append(options.HeadFeaturesLayer ?? 0))
            if (layer < 0 || layer >= a.Depth)
                throw new ArgumentOutOfRangeException(nameof(options), layer,
                    $"CrateOnnxExportOptions: layer {layer} is out of range: the model has {a.Depth} layers (0..{a.Depth - 1}).");
        if (options.ClsAttentionLayers.Distinct().Count() != options.ClsAttentionLayers.Count)
            throw new ArgumentException(
                $"CrateOnnxExportOptions.ClsAttentionLayers lists a layer twice ({string.Join(", ", options.ClsAttentionLayers)}).", nameof(options));
        if (options.Normalization is { } n)
        {
            if (n.Mean.Length != a.Channels || n.Std.Length != a.Channels)
                throw new ArgumentException(
                    $"CrateOnnxExportOptions.Normalization has {n.Mean.Length} means and {n.Std.Length} standard deviations; the model has {a.Channels} channels.", nameof(options));
            if (n.Std.Any(s => !(s > 0) || float.IsInfinity(s)) || n.Mean.Any(m => !float.IsFinite(m)))
                throw new ArgumentException("CrateOnnxExportOptions.Normalization needs finite means and positive, finite standard deviations.", nameof(options));
        }
        if (options.ClassNames is { } names && names.Count != a.ClassCount)
            throw new ArgumentException(
                $"CrateOnnxExportOptions.ClassNames has {names.Count} names; the model has {a.ClassCount} classes.", nameof(options));
        return options with
        {
            ImageHeight = height, ImageWidth = width,
            ClsAttentionLayers = options.ClsAttentionLayers.ToArray(),
            ClassNames = options.ClassNames?.ToArray(),
        };
    }

    /// <summary>Throws when weights of <paramref name="bytes"/> cannot fit one protobuf message.</summary>
    internal static void EnsureFitsProtobuf(long bytes)
    {
        if (bytes > MaxInitializerBytes)
            throw new NotSupportedException(
                $"The model's weights take {bytes / (double)(1 << 30):F2} GiB; an ONNX file holds at most 2 GiB in one protobuf message, " +
                "and this exporter does not write ONNX's external-data layout.");
    }
}
