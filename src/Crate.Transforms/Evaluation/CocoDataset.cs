using System.Text.Json;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// The ground truth of a COCO instances file (annotations/instances_*.json): images, categories and objects. Ids are
/// unique within each list and every object names a listed image and category; an RLE segmentation has its image's
/// size. Lists keep the file's order, which decides ties in evaluation exactly as it does in pycocotools.
/// </summary>
public sealed class CocoDataset
{
    private readonly Dictionary<long, CocoImage> images;
    private readonly Dictionary<long, CocoCategory> categories;

    /// <summary>Checks and indexes the records.</summary>
    /// <exception cref="CocoFormatException">A duplicate id, an object for an unlisted image or category, or an RLE
    /// segmentation whose size is not its image's.</exception>
    public CocoDataset(IReadOnlyList<CocoImage> images, IReadOnlyList<CocoAnnotation> annotations, IReadOnlyList<CocoCategory> categories)
        : this(images, annotations, categories, file: null)
    {
    }

    private CocoDataset(IReadOnlyList<CocoImage> images, IReadOnlyList<CocoAnnotation> annotations, IReadOnlyList<CocoCategory> categories, string? file)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(annotations);
        ArgumentNullException.ThrowIfNull(categories);
        Images = images.ToArray();
        Annotations = annotations.ToArray();
        Categories = categories.ToArray();
        this.images = new Dictionary<long, CocoImage>(Images.Count);
        for (int i = 0; i < Images.Count; i++)
        {
            CocoImage image = Images[i] ?? throw new CocoFormatException(file, $"images[{i}]", "null.");
            if (image.Width <= 0 || image.Height <= 0)
                throw new CocoFormatException(file, $"images[{i}] (id {image.Id})", $"size {image.Width}×{image.Height} is not positive.");
            if (!this.images.TryAdd(image.Id, image))
                throw new CocoFormatException(file, $"images[{i}] (id {image.Id})", "an earlier image has the same id.");
        }
        this.categories = new Dictionary<long, CocoCategory>(Categories.Count);
        for (int i = 0; i < Categories.Count; i++)
        {
            CocoCategory category = Categories[i] ?? throw new CocoFormatException(file, $"categories[{i}]", "null.");
            if (!this.categories.TryAdd(category.Id, category))
                throw new CocoFormatException(file, $"categories[{i}] (id {category.Id})", "an earlier category has the same id.");
        }
        var annotationIds = new HashSet<long>(Annotations.Count);
        for (int i = 0; i < Annotations.Count; i++)
        {
            CocoAnnotation annotation = Annotations[i] ?? throw new CocoFormatException(file, $"annotations[{i}]", "null.");
            string record = $"annotations[{i}] (id {annotation.Id})";
            // pycocotools indexes objects by id, so a repeated id would silently stand for the later object twice.
            if (!annotationIds.Add(annotation.Id))
                throw new CocoFormatException(file, record, "an earlier annotation has the same id.");
            if (!this.images.TryGetValue(annotation.ImageId, out CocoImage? image))
                throw new CocoFormatException(file, record, $"image_id {annotation.ImageId} is not in \"images\".");
            if (!this.categories.ContainsKey(annotation.CategoryId))
                throw new CocoFormatException(file, record, $"category_id {annotation.CategoryId} is not in \"categories\".");
            if (!double.IsFinite(annotation.Area) || !double.IsFinite(annotation.Box.X) || !double.IsFinite(annotation.Box.Y)
                || !double.IsFinite(annotation.Box.Width) || !double.IsFinite(annotation.Box.Height))
                throw new CocoFormatException(file, record, "area and bbox must be finite numbers.");
            if (annotation.Segmentation?.Rle is RleMask rle && (rle.Height != image.Height || rle.Width != image.Width))
                throw new CocoFormatException(file, record,
                    $"the RLE segmentation is {rle.Height}×{rle.Width} but image {image.Id} is {image.Height}×{image.Width}.");
        }
    }

    /// <summary>The images, in file order.</summary>
    public IReadOnlyList<CocoImage> Images { get; }

    /// <summary>The objects, in file order.</summary>
    public IReadOnlyList<CocoAnnotation> Annotations { get; }

    /// <summary>The categories, in file order.</summary>
    public IReadOnlyList<CocoCategory> Categories { get; }

    /// <summary>The file this was read from, or null.</summary>
    public string? FilePath { get; private init; }

    /// <summary>The image with this id, or null.</summary>
    public CocoImage? FindImage(long id) => images.GetValueOrDefault(id);

    /// <summary>The category with this id, or null.</summary>
    public CocoCategory? FindCategory(long id) => categories.GetValueOrDefault(id);

    /// <summary>
    /// Reads a COCO instances file. Required: "images" (id, width, height; file_name optional), "categories" (id;
    /// name and supercategory optional) and "annotations" (id, image_id, category_id, bbox, area, iscrowd;
    /// segmentation optional until masks are needed: polygons, or RLE with counts compressed or not).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxImagePixels">The most pixels (width·height) an image may declare, so that its masks (drawn at
    /// its size) stay bounded. Default <see cref="Datasets.ReaderLimits.DefaultMaxPixels"/> (8192·8192).</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="CocoFormatException">Not JSON, or not COCO, or an image larger than <paramref name="maxImagePixels"/>:
    /// the message names the record and the key.</exception>
    public static CocoDataset Load(string path, long maxImagePixels = Datasets.ReaderLimits.DefaultMaxPixels)
    {
        using JsonDocument document = CocoJsonRecord.ParseFile(path);
        JsonElement root = document.RootElement;
        var images = new List<CocoImage>();
        foreach ((CocoJsonRecord record, long id) in CocoJsonRecord.IdentifiedRecords(root, path, "images"))
        {
            var image = new CocoImage(id, record.RequiredPositiveInt("width"), record.RequiredPositiveInt("height"), record.OptionalString("file_name") ?? "");
            if ((long)image.Width * image.Height > maxImagePixels)
                throw record.Error($"size {image.Width}×{image.Height} is more than the {maxImagePixels} pixels accepted (Load's maxImagePixels).");
            images.Add(image);
        }
        var categories = new List<CocoCategory>();
        foreach ((CocoJsonRecord record, long id) in CocoJsonRecord.IdentifiedRecords(root, path, "categories"))
            categories.Add(new CocoCategory(id, record.OptionalString("name") ?? "", record.OptionalString("supercategory")));
        var annotations = new List<CocoAnnotation>();
        foreach ((CocoJsonRecord record, long id) in CocoJsonRecord.IdentifiedRecords(root, path, "annotations"))
        {
            CocoSegmentation? segmentation = record.TryGet("segmentation", out JsonElement value) ? record.Segmentation(value) : null;
            annotations.Add(new CocoAnnotation(id, record.RequiredId("image_id"), record.RequiredId("category_id"),
                record.Box(record.Required("bbox")), record.RequiredNumber("area"), record.RequiredFlag("iscrowd"), segmentation));
        }
        return new CocoDataset(images, annotations, categories, path) { FilePath = path };
    }

    /// <summary>Writes the dataset as a COCO instances file (RLE segmentations compressed).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, CocoResultsFile.WriterOptions);
        json.WriteStartObject();
        json.WriteStartArray("images");
        foreach (CocoImage image in Images)
        {
            json.WriteStartObject();
            json.WriteNumber("id", image.Id);
            json.WriteNumber("width", image.Width);
            json.WriteNumber("height", image.Height);
            json.WriteString("file_name", image.FileName);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("categories");
        foreach (CocoCategory category in Categories)
        {
            json.WriteStartObject();
            json.WriteNumber("id", category.Id);
            json.WriteString("name", category.Name);
            if (category.Supercategory is not null) json.WriteString("supercategory", category.Supercategory);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("annotations");
        foreach (CocoAnnotation annotation in Annotations)
        {
            json.WriteStartObject();
            json.WriteNumber("id", annotation.Id);
            json.WriteNumber("image_id", annotation.ImageId);
            json.WriteNumber("category_id", annotation.CategoryId);
            CocoResultsFile.WriteBox(json, annotation.Box);
            json.WriteNumber("area", annotation.Area);
            json.WriteNumber("iscrowd", annotation.IsCrowd ? 1 : 0);
            if (annotation.Segmentation is { } segmentation)
            {
                json.WritePropertyName("segmentation");
                if (segmentation.Rle is { } rle) CocoResultsFile.WriteRle(json, rle);
                else
                {
                    json.WriteStartArray();
                    foreach (double[] polygon in segmentation.Polygons!)
                    {
                        json.WriteStartArray();
                        foreach (double coordinate in polygon) json.WriteNumberValue(coordinate);
                        json.WriteEndArray();
                    }
                    json.WriteEndArray();
                }
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
