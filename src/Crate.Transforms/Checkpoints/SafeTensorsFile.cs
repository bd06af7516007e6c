using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length n, n bytes of UTF-8 JSON
/// <c>{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}}</c> padded with
/// spaces so the data starts 8-byte aligned, then the tensors' raw little-endian bytes, C-contiguous, with offsets
/// relative to the end of the header. Nothing in it is executable, which is why models are saved this way.
/// </summary>
internal static class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";
    // The format's own bound on the header, so a hostile length cannot make us allocate gigabytes.
    private const long MaxHeaderBytes = 100_000_000;
    private const int CopyBufferBytes = 1 << 20;

    private static readonly (string Name, ScalarType Type, int Size)[] DataTypes =
    {
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    };

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record Entry(string Name, ScalarType Type, long[] Shape, long Begin, long End);

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device; copied to the CPU) and <paramref name="metadata"/> to
    /// <paramref name="path"/>. The file is written under a temporary name in the same directory and then renamed
    /// over <paramref name="path"/>, so a crash never leaves a half-written file there. Tensors are stored in name
    /// order; element types F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL are supported.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        List<KeyValuePair<string, Tensor>> ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        byte[] header = BuildHeader(ordered, metadata);

        string fullPath = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                file.Write(length);
                file.Write(header);
                foreach ((_, Tensor tensor) in ordered)
                {
                    using var scope = NewDisposeScope();
                    Tensor cpu = tensor.detach().cpu().contiguous();
                    if (cpu.numel() > 0)
                        cpu.WriteBytesToStream(file, CopyBufferBytes);
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Reads every tensor (as CPU tensors, which the caller disposes) and the metadata of the file at
    /// <paramref name="path"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors: short, a header that is not
    /// JSON or runs past the file, an unknown dtype, offsets that overlap, leave gaps, or disagree with the shape.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        using FileStream file = OpenRead(path);
        (List<Entry> entries, Dictionary<string, string> metadata, long dataStart) = ReadHeader(file, file.Length, path);
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (Entry entry in entries)
        {
            Tensor tensor = empty(entry.Shape, entry.Type);
            if (entry.End > entry.Begin)
            {
                file.Position = dataStart + entry.Begin;
                tensor.ReadBytesFromStream(file, CopyBufferBytes);
            }
            tensors[entry.Name] = tensor;
        }
        foreach (Tensor tensor in tensors.Values)
            tensor.MoveToOuterDisposeScope();
        return (tensors, metadata);
    }

    /// <summary>The metadata of the file at <paramref name="path"/>, without reading any tensor data.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using FileStream file = OpenRead(path);
        return ReadHeader(file, file.Length, path).Metadata;
    }

    /// <summary>The metadata of a safetensors file of <paramref name="length"/> bytes read from the start of
    /// <paramref name="stream"/> (an entry of an archive), named <paramref name="name"/> in errors.</summary>
    internal static Dictionary<string, string> ReadMetadata(Stream stream, long length, string name) => ReadHeader(stream, length, name).Metadata;

    private static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The safetensors file '{path}' does not exist.", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header, WriterOptions))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach ((string name, Tensor tensor) in tensors)
            {
                if (name.Length == 0 || name == MetadataKey)
                    throw new ArgumentException($"'{name}' cannot name a tensor in a safetensors file.", nameof(tensors));
                (string dtype, _, int size) = DataTypes.FirstOrDefault(d => d.Type == tensor.dtype);
                if (dtype is null)
                    throw new ArgumentException($"Tensor '{name}' has element type {tensor.dtype}, which safetensors files here do not store.", nameof(tensors));
                long end = offset + tensor.numel() * size;
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (long dimension in tensor.shape)
                    json.WriteNumberValue(dimension);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Pad with spaces (still valid JSON) so the data section starts 8-byte aligned.
        while (header.Length % 8 != 0)
            header.WriteByte((byte)' ');
        return header.ToArray();
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(Stream file, long fileLength, string path)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (file.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw new CheckpointFormatException($"'{path}' is too short to be a safetensors file.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(fileLength - 8))
            throw new CheckpointFormatException(
                $"'{path}' is not a valid safetensors file: its header length {headerLength} exceeds the file ({fileLength} bytes) or the {MaxHeaderBytes}-byte limit.");
        var header = new byte[headerLength];
        file.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(header);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Invalid(path, "the header is not a JSON object");
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                    throw Invalid(path, $"'{property.Name}' appears twice in the header");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property, dataLength, path));
            }
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new CheckpointFormatException($"'{path}' is not a valid safetensors file: the header is not the expected JSON ({e.Message}).", e);
        }

        // The tensors must tile the data section exactly: no overlap, no gap, nothing after the last one.
        long covered = 0;
        foreach (Entry entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin != covered)
                throw Invalid(path, $"tensor '{entry.Name}' starts at byte {entry.Begin} of the data where {covered} was expected (overlap or gap)");
            covered = entry.End;
        }
        if (covered != dataLength)
            throw Invalid(path, $"the tensors cover {covered} bytes but the data section has {dataLength}");
        return (entries, metadata, dataStart);
    }

    private static void ReadMetadata(JsonElement element, Dictionary<string, string> metadata, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Invalid(path, $"{MetadataKey} is not an object");
        foreach (JsonProperty item in element.EnumerateObject())
            metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String
                ? item.Value.GetString()!
                : throw Invalid(path, $"metadata '{item.Name}' is not a string");
    }

    private static Entry ReadEntry(JsonProperty property, long dataLength, string path)
    {
        string name = property.Name;
        JsonElement value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out JsonElement offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
            throw Invalid(path, $"tensor '{name}' lacks a dtype string, a shape array or a data_offsets array");
        string dtype = dtypeElement.GetString()!;
        (string known, ScalarType type, int size) = DataTypes.FirstOrDefault(d => d.Name == dtype);
        if (known is null)
            throw Invalid(path, $"tensor '{name}' has the unsupported dtype '{dtype}'");
        long[] shape = shapeElement.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        long[] offsets = offsetsElement.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        if (shape.Any(d => d < 0))
            throw Invalid(path, $"tensor '{name}' has a negative dimension in {ShapeMismatch.Format(shape)}");
        if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
            throw Invalid(path, $"tensor '{name}' has data_offsets {ShapeMismatch.Format(offsets)} outside the {dataLength}-byte data section");
        long bytes;
        try
        {
            bytes = shape.Aggregate((long)size, (product, d) => checked(product * d));
        }
        catch (OverflowException)
        {
            throw Invalid(path, $"tensor '{name}' of shape {ShapeMismatch.Format(shape)} is too large to exist");
        }
        if (offsets[1] - offsets[0] != bytes)
            throw Invalid(path, $"tensor '{name}' ({dtype} {ShapeMismatch.Format(shape)}) needs {bytes} bytes but its data_offsets span {offsets[1] - offsets[0]}");
        return new Entry(name, type, shape, offsets[0], offsets[1]);
    }

    private static CheckpointFormatException Invalid(string path, string problem) =>
        new($"'{path}' is not a valid safetensors file: {problem}.");
}
