using System.Text.Encodings.Web;
using System.Text.Json;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// COCO's results format: a JSON array of detections {"image_id", "category_id", "score", "bbox": [x, y, w, h],
/// "segmentation": {"size": [h, w], "counts": compressed RLE}}, as pycocotools' loadRes reads it and detectron2 and
/// CutLER write it.
/// </summary>
public static class CocoResultsFile
{
    /// <summary>
    /// Reads a results file against its ground truth, giving each detection what pycocotools' loadRes gives it. The
    /// first detection decides, for all of them: if it has a non-empty "bbox", every detection needs one and its area
    /// is width·height, even in mask evaluation (detectron2 drops "bbox" from mask results for this reason); otherwise
    /// every detection needs a "segmentation", its area is the mask's, and a missing box is the box around the mask.
    /// Segmentations may be RLE (compressed or not) or polygons, at the image's size.
    /// </summary>
    /// <param name="path">The results file.</param>
    /// <param name="groundTruth">The dataset the detections are for.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CocoFormatException">Not JSON, not an array of detections, an empty array, a detection
    /// without the keys it needs, or one for an unknown image or category or with a wrongly sized mask.</exception>
    public static IReadOnlyList<CocoDetection> Read(string path, CocoDataset groundTruth) => Read(path, groundTruth, new CocoEvaluationOptions(), out _);

    /// <summary>Reads a results file as <see cref="Read(string, CocoDataset)"/> does, with
    /// <see cref="CocoEvaluationOptions.SkipInvalidDetections"/> (skipped detections are counted in
    /// <paramref name="skipped"/> and reported to <see cref="CocoEvaluationOptions.Log"/>) and
    /// <see cref="CocoEvaluationOptions.ClassAgnostic"/> (any category id is accepted).</summary>
    /// <inheritdoc cref="Read(string, CocoDataset)"/>
    public static IReadOnlyList<CocoDetection> Read(string path, CocoDataset groundTruth, CocoEvaluationOptions options, out int skipped)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(groundTruth);
        using JsonDocument document = CocoJsonRecord.ParseFile(path);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Array)
            throw new CocoFormatException(path, null, $"a results file is a JSON array of detections, found {CocoJsonRecord.Describe(root)}.");
        if (root.GetArrayLength() == 0)
            throw new CocoFormatException(path, null, "no detections: the results array is empty.");
        JsonElement first = root[0];
        bool boxBranch = first.ValueKind == JsonValueKind.Object && first.TryGetProperty("bbox", out JsonElement firstBox)
            && !(firstBox.ValueKind == JsonValueKind.Array && firstBox.GetArrayLength() == 0);
        if (!boxBranch && !(first.ValueKind == JsonValueKind.Object && first.TryGetProperty("segmentation", out _)))
            throw new CocoFormatException(path, "[0]", "the first detection has neither \"bbox\" nor \"segmentation\".");

        var detections = new List<CocoDetection>(root.GetArrayLength());
        skipped = 0;
        int index = 0;
        foreach (JsonElement element in root.EnumerateArray())
        {
            var record = new CocoJsonRecord(element, path, $"[{index++}]");
            record.RequireObject();
            long imageId = record.RequiredId("image_id");
            long categoryId = record.RequiredId("category_id");
            double score = record.RequiredNumber("score");
            CocoImage? image = groundTruth.FindImage(imageId);
            string? problem = image is null ? $"image_id {imageId} is not in the ground truth"
                : !options.ClassAgnostic && groundTruth.FindCategory(categoryId) is null ? $"category_id {categoryId} is not in the ground truth"
                : null;
            RleMask? mask = null;
            if (problem is null && record.TryGet("segmentation", out JsonElement segmentation))
            {
                try
                {
                    mask = record.Segmentation(segmentation).ToRle(image!.Height, image.Width);
                }
                catch (ArgumentException e)
                {
                    problem = $"segmentation does not fit image {imageId}: {CocoJsonRecord.Plain(e).TrimEnd('.')}";
                }
            }
            if (problem is not null)
            {
                if (!options.SkipInvalidDetections) throw record.Error(problem + ".");
                skipped++;
                options.Log?.Invoke($"{path}: {record.Name}: skipped: {problem}.");
                continue;
            }
            CocoBox box;
            double area;
            if (boxBranch)
            {
                box = record.Box(record.Required("bbox"));
                area = box.Width * box.Height;
            }
            else
            {
                if (mask is null) throw record.Error("missing \"segmentation\" (the first detection has no box, so every detection needs a mask).");
                box = record.TryGet("bbox", out JsonElement given) ? record.Box(given) : mask.BoundingBox();
                area = mask.Area;
            }
            detections.Add(new CocoDetection(imageId, categoryId, score, box, mask) { Area = area });
        }
        return detections;
    }

    /// <summary>
    /// Writes detections in the results format: "bbox" when a detection has a box, "segmentation" as compressed RLE
    /// when it has a mask, numbers in their shortest round-trip form. pycocotools' loadRes accepts the file.
    /// </summary>
    /// <exception cref="ArgumentException">A detection with neither box nor mask, or a non-finite score.</exception>
    public static void Write(string path, IEnumerable<CocoDetection> detections)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(detections);
        using FileStream stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, WriterOptions);
        json.WriteStartArray();
        int index = 0;
        foreach (CocoDetection detection in detections)
        {
            if (detection.Box is null && detection.Mask is null)
                throw new ArgumentException($"Detection {index} has neither a box nor a mask.", nameof(detections));
            if (!double.IsFinite(detection.Score))
                throw new ArgumentException($"Detection {index} has score {detection.Score}.", nameof(detections));
            json.WriteStartObject();
            json.WriteNumber("image_id", detection.ImageId);
            json.WriteNumber("category_id", detection.CategoryId);
            if (detection.Box is CocoBox box) WriteBox(json, box);
            json.WriteNumber("score", detection.Score);
            if (detection.Mask is RleMask mask)
            {
                json.WritePropertyName("segmentation");
                WriteRle(json, mask);
            }
            json.WriteEndObject();
            index++;
        }
        json.WriteEndArray();
    }

    /// <summary>JSON without \u escapes of the RLE alphabet's '&lt;', '&gt;' and '`' (COCO's own files have none).</summary>
    internal static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"bbox": [x, y, w, h].</summary>
    internal static void WriteBox(Utf8JsonWriter json, CocoBox box)
    {
        json.WriteStartArray("bbox");
        json.WriteNumberValue(box.X);
        json.WriteNumberValue(box.Y);
        json.WriteNumberValue(box.Width);
        json.WriteNumberValue(box.Height);
        json.WriteEndArray();
    }

    /// <summary>{"size": [h, w], "counts": compressed string}.</summary>
    internal static void WriteRle(Utf8JsonWriter json, RleMask mask)
    {
        json.WriteStartObject();
        json.WriteStartArray("size");
        json.WriteNumberValue(mask.Height);
        json.WriteNumberValue(mask.Width);
        json.WriteEndArray();
        json.WriteString("counts", mask.ToCompressedString());
        json.WriteEndObject();
    }
}
