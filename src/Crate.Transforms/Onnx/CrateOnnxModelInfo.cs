using System.Globalization;
using System.Text.Json;
using Crate.Transforms.Network;
using Google.Protobuf;
using Onnx;

namespace Crate.Transforms.Onnx;

/// <summary>
/// What a Crate.MLNet ONNX export is, as recorded in the model's metadata_props: the network's architecture, the
/// export options (image size or dynamic size, normalisation, read-outs, class names) and the versions. Written by
/// <see cref="CrateOnnxExporter"/>, read back by <see cref="Read(string)"/> without loading the weights.
/// </summary>
public sealed record CrateOnnxModelInfo
{
    /// <summary>The metadata value of <see cref="FormatKey"/> that marks a Crate.MLNet ONNX export.</summary>
    public const string FormatName = "crate-mlnet-onnx";

    /// <summary>The metadata layout version this library writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Metadata key of the format name.</summary>
    public const string FormatKey = "crate_mlnet.format";

    /// <summary>Metadata key of the layout version.</summary>
    public const string FormatVersionKey = "crate_mlnet.format_version";

    /// <summary>Metadata key of the architecture JSON (<see cref="CrateArchitecture.ToJson"/>).</summary>
    public const string ArchitectureKey = "crate_mlnet.architecture";

    /// <summary>Metadata key of the export options JSON.</summary>
    public const string ExportOptionsKey = "crate_mlnet.export_options";

    /// <summary>Metadata key of the writing Crate.MLNet version.</summary>
    public const string CrateVersionKey = "crate_mlnet.version";

    // ModelProto's field numbers (onnx.proto3), for reading the metadata without the graph.
    private const int IrVersionField = 1, ProducerNameField = 2, GraphField = 7, OpsetImportField = 8, MetadataPropsField = 14;

    /// <summary>The exported network's architecture.</summary>
    public required CrateArchitecture Architecture { get; init; }

    /// <summary>The options of the export, with the image size resolved (null height and width only for a dynamic size).</summary>
    public required CrateOnnxExportOptions Options { get; init; }

    /// <summary>The Crate.MLNet version that exported the model.</summary>
    public required string CrateVersion { get; init; }

    /// <summary>The ONNX opset the graph uses.</summary>
    public required long OpsetVersion { get; init; }

    /// <summary>The graph's outputs, in order: logits, probabilities, then the requested read-outs.</summary>
    public IReadOnlyList<string> OutputNames =>
    [
        CrateOnnxExporter.LogitsOutput, CrateOnnxExporter.ProbabilitiesOutput,
        .. Options.ClsAttentionLayers.Count > 0 ? [CrateOnnxExporter.ClsAttentionOutput] : Array.Empty<string>(),
        .. Options.HeadFeaturesLayer is null ? Array.Empty<string>() : [CrateOnnxExporter.HeadFeaturesOutput],
    ];

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };

    /// <summary>The metadata_props entries that record this export.</summary>
    internal IEnumerable<StringStringEntryProto> ToMetadata() =>
        new Dictionary<string, string>
        {
            [FormatKey] = FormatName,
            [FormatVersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [ArchitectureKey] = Architecture.ToJson(),
            [ExportOptionsKey] = JsonSerializer.Serialize(Options, JsonOptions),
            [CrateVersionKey] = CrateVersion,
        }.Select(entry => new StringStringEntryProto { Key = entry.Key, Value = entry.Value });

    /// <summary>
    /// Reads the export description of the ONNX model at <paramref name="path"/>, skipping over its graph.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CrateOnnxFormatException">Not an ONNX model, truncated, not exported by Crate.MLNet, written
    /// by a newer Crate.MLNet, or with unusable metadata.</exception>
    public static CrateOnnxModelInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"There is no ONNX model at '{path}'.", path);
        using FileStream file = File.OpenRead(path);
        return Read(file, path);
    }

    /// <summary>Reads the export description from <paramref name="stream"/>; <paramref name="name"/> names it in messages.</summary>
    /// <exception cref="CrateOnnxFormatException">As <see cref="Read(string)"/>.</exception>
    public static CrateOnnxModelInfo Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        string producer = "";
        long opset = 0;
        bool hasIrVersion = false, hasGraph = false;
        try
        {
            var input = new CodedInputStream(stream, leaveOpen: true);
            for (uint tag = input.ReadTag(); tag != 0; tag = input.ReadTag())
            {
                WireFormat.WireType wire = WireFormat.GetTagWireType(tag);
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case IrVersionField when wire == WireFormat.WireType.Varint:
                        hasIrVersion = input.ReadInt64() > 0;
                        break;
                    case ProducerNameField when wire == WireFormat.WireType.LengthDelimited:
                        producer = input.ReadString();
                        break;
                    case OpsetImportField when wire == WireFormat.WireType.LengthDelimited:
                        var opsetId = new OperatorSetIdProto();
                        input.ReadMessage(opsetId);
                        if (opsetId.Domain is "" or "ai.onnx") opset = opsetId.Version;
                        break;
                    case MetadataPropsField when wire == WireFormat.WireType.LengthDelimited:
                        var entry = new StringStringEntryProto();
                        input.ReadMessage(entry);
                        metadata[entry.Key] = entry.Value;
                        break;
                    case GraphField when wire == WireFormat.WireType.LengthDelimited:
                        hasGraph = true;
                        input.SkipLastField();
                        break;
                    default:
                        input.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new CrateOnnxFormatException($"'{name}' is not a readable ONNX model (truncated, or not ONNX at all): {e.Message}", e);
        }
        if (!hasIrVersion || !hasGraph)
            throw new CrateOnnxFormatException($"'{name}' is not an ONNX model: it has no {(hasIrVersion ? "graph" : "IR version")}.");
        return FromMetadata(metadata, producer, opset, name);
    }

    private static CrateOnnxModelInfo FromMetadata(Dictionary<string, string> metadata, string producer, long opset, string name)
    {
        if (!metadata.TryGetValue(FormatKey, out string? format) || format != FormatName)
            throw new CrateOnnxFormatException(
                $"'{name}' is an ONNX model but not one exported by Crate.MLNet: its metadata has {FormatKey} '{format ?? "(none)"}', " +
                $"not '{FormatName}' (producer '{(producer.Length == 0 ? "(none)" : producer)}').");
        if (!metadata.TryGetValue(FormatVersionKey, out string? versionText)
            || !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw new CrateOnnxFormatException($"'{name}' has no valid {FormatVersionKey} in its metadata (found '{versionText ?? "(none)"}').");
        if (version > FormatVersion)
            throw new CrateOnnxFormatException(
                $"'{name}' was exported by a newer Crate.MLNet (format {version}); this version reads format {FormatVersion}.");
        try
        {
            CrateArchitecture architecture = CrateArchitecture.FromJson(Required(metadata, ArchitectureKey, name));
            architecture.Validate();
            CrateOnnxExportOptions options = JsonSerializer.Deserialize<CrateOnnxExportOptions>(Required(metadata, ExportOptionsKey, name), JsonOptions)
                ?? throw new JsonException("The export options are null.");
            return new CrateOnnxModelInfo
            {
                Architecture = architecture, Options = options, OpsetVersion = opset,
                CrateVersion = metadata.GetValueOrDefault(CrateVersionKey, "unknown"),
            };
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new CrateOnnxFormatException($"'{name}' has unusable Crate.MLNet metadata: {e.Message}", e);
        }
    }

    private static string Required(Dictionary<string, string> metadata, string key, string name) =>
        metadata.TryGetValue(key, out string? value)
            ? value
            : throw new CrateOnnxFormatException($"'{name}' has no {key} in its metadata.");
}
