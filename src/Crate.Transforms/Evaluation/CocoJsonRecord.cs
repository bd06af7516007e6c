using System.Text.Json;

namespace Crate.Transforms.Evaluation;

/// <summary>One JSON object of a COCO file with its name ("annotations[12] (id 907)") for error messages, and
/// readers for its fields that say which file, record and key is wrong.</summary>
internal readonly struct CocoJsonRecord(JsonElement element, string? file, string name)
{
    public string Name => name;

    public static JsonDocument ParseFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"COCO file '{path}' does not exist.", path);
        // Parsed from the file's bytes in place (a stream would be copied into a buffer of the same size anyway).
        byte[] bytes = File.ReadAllBytes(path);
        // A UTF-8 byte-order mark is skipped, as JsonDocument.Parse(Stream) skips it.
        ReadOnlyMemory<byte> json = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsMemory(3) : bytes;
        // The parser checks the structure, not the text of strings, which reading them later refuses.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span)) throw new CocoFormatException(path, null, "not valid JSON (not UTF-8 text).");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CocoFormatException(path, null, $"not valid JSON ({e.Message})", e);
        }
        // Nor does it check an escape of half a UTF-16 surrogate pair ("\ud800"), which reading that name or string later
        // refuses with an InvalidOperationException; a file that has such escapes is checked whole, here.
        if (bytes.AsSpan().IndexOf("\\ud"u8) >= 0 || bytes.AsSpan().IndexOf("\\uD"u8) >= 0)
        {
            try
            {
                CheckText(document.RootElement);
            }
            catch (InvalidOperationException e)
            {
                document.Dispose();
                throw new CocoFormatException(path, null, $"not valid JSON text ({e.Message})", e);
            }
        }
        return document;
    }

    private static void CheckText(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray()) CheckText(item);
                break;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    _ = property.Name;
                    CheckText(property.Value);
                }
                break;
        }
    }

    /// <summary>The elements of array <paramref name="key"/> of a top-level object.</summary>
    public static JsonElement.ArrayEnumerator RequiredArray(JsonElement root, string? file, string key)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new CocoFormatException(file, null, $"expected a JSON object with \"images\", \"annotations\" and \"categories\", found {Describe(root)}.");
        if (!root.TryGetProperty(key, out JsonElement value))
            throw new CocoFormatException(file, null, $"no \"{key}\" array; this is not a COCO instances file.");
        if (value.ValueKind != JsonValueKind.Array)
            throw new CocoFormatException(file, key, $"expected an array, found {Describe(value)}.");
        return value.EnumerateArray();
    }

    /// <summary>The objects of top-level array <paramref name="key"/>, each with its "id" and named "key[i] (id n)".</summary>
    public static IEnumerable<(CocoJsonRecord Record, long Id)> IdentifiedRecords(JsonElement root, string file, string key)
    {
        int index = 0;
        foreach (JsonElement element in RequiredArray(root, file, key))
        {
            var record = new CocoJsonRecord(element, file, $"{key}[{index++}]");
            record.RequireObject();
            long id = record.RequiredId("id");
            yield return (record.Named($"{record.Name} (id {id})"), id);
        }
    }

    public CocoFormatException Error(string problem) => new(file, name, problem);

    public CocoJsonRecord Named(string newName) => new(element, file, newName);

    public JsonElement Element => element;

    public void RequireObject()
    {
        if (element.ValueKind != JsonValueKind.Object) throw Error($"expected a JSON object, found {Describe(element)}.");
    }

    public bool TryGet(string key, out JsonElement value) => element.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    public JsonElement Required(string key) =>
        TryGet(key, out JsonElement value) ? value : throw Error($"missing \"{key}\".");

    public long RequiredId(string key)
    {
        JsonElement value = Required(key);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long id)
            ? id
            : throw Error($"\"{key}\" must be an integer, found {Describe(value)}.");
    }

    public int RequiredPositiveInt(string key)
    {
        JsonElement value = Required(key);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) && number > 0
            ? number
            : throw Error($"\"{key}\" must be a positive integer, found {Describe(value)}.");
    }

    public double RequiredNumber(string key) => Number(Required(key), key);

    public double Number(JsonElement value, string what)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double number) && double.IsFinite(number)) return number;
        throw Error($"\"{what}\" must be a finite number, found {Describe(value)}.");
    }

    public string? OptionalString(string key)
    {
        if (!TryGet(key, out JsonElement value)) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Error($"\"{key}\" must be a string, found {Describe(value)}.");
    }

    /// <summary>0/1 or false/true, as COCO's "iscrowd".</summary>
    public bool RequiredFlag(string key)
    {
        JsonElement value = Required(key);
        if (value.ValueKind == JsonValueKind.True) return true;
        if (value.ValueKind == JsonValueKind.False) return false;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int flag) && flag is 0 or 1) return flag == 1;
        throw Error($"\"{key}\" must be 0 or 1, found {Describe(value)}.");
    }

    public CocoBox Box(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 4)
            throw Error($"\"bbox\" must be [x, y, width, height], found {Describe(value)}.");
        return new CocoBox(Number(value[0], "bbox[0]"), Number(value[1], "bbox[1]"), Number(value[2], "bbox[2]"), Number(value[3], "bbox[3]"));
    }

    /// <summary>A segmentation: a list of polygons, or an RLE object {"size": [h, w], "counts": string or list}.</summary>
    public CocoSegmentation Segmentation(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            var polygons = new List<double[]>();
            int index = 0;
            foreach (JsonElement polygon in value.EnumerateArray())
            {
                if (polygon.ValueKind != JsonValueKind.Array)
                    throw Error($"\"segmentation\"[{index}] must be a polygon (a list of numbers), found {Describe(polygon)}; " +
                        "a segmentation is a list of polygons or an RLE object.");
                var xy = new double[polygon.GetArrayLength()];
                for (int i = 0; i < xy.Length; i++) xy[i] = Number(polygon[i], $"segmentation[{index}][{i}]");
                polygons.Add(xy);
                index++;
            }
            try
            {
                return CocoSegmentation.FromPolygons(polygons);
            }
            catch (ArgumentException e)
            {
                throw Error($"\"segmentation\": {Plain(e)}");
            }
        }
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("counts", out JsonElement counts)
            && value.TryGetProperty("size", out JsonElement size))
        {
            if (size.ValueKind != JsonValueKind.Array || size.GetArrayLength() != 2
                || !size[0].TryGetInt32(out int height) || !size[1].TryGetInt32(out int width) || height <= 0 || width <= 0)
                throw Error($"RLE \"size\" must be [height, width] of positive integers, found {Describe(size)}.");
            if (counts.ValueKind == JsonValueKind.String)
            {
                try
                {
                    return CocoSegmentation.FromRle(RleMask.FromCompressedString(counts.GetString()!, height, width));
                }
                catch (FormatException e)
                {
                    throw Error($"compressed RLE: {e.Message}");
                }
            }
            if (counts.ValueKind == JsonValueKind.Array)
            {
                var runs = new uint[counts.GetArrayLength()];
                int i = 0;
                foreach (JsonElement run in counts.EnumerateArray())
                {
                    if (run.ValueKind != JsonValueKind.Number || !run.TryGetUInt32(out runs[i]))
                        throw Error($"uncompressed RLE \"counts\"[{i}] must be a non-negative integer, found {Describe(run)}.");
                    i++;
                }
                try
                {
                    return CocoSegmentation.FromRle(new RleMask(height, width, runs));
                }
                catch (ArgumentException e)
                {
                    throw Error($"uncompressed RLE: {Plain(e)}");
                }
            }
            throw Error($"RLE \"counts\" must be a string (compressed) or a list of integers, found {Describe(counts)}.");
        }
        throw Error($"\"segmentation\" is neither a list of polygons nor an RLE object with \"size\" and \"counts\": found {Describe(value)}.");
    }

    /// <summary>An argument error's message without the "(Parameter 'x')" suffix, for a message about a file.</summary>
    public static string Plain(ArgumentException e) =>
        e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);

    /// <summary>A short description of a JSON value for messages: its kind and, for scalars, its text.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"an array of {value.GetArrayLength()}",
        JsonValueKind.String => $"the string \"{Truncate(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        _ => "null",
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
