using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>Options of <see cref="DatasetCatalog.LoadVocSegmentation"/>.</summary>
public sealed record VocSegmentationOptions
{
    /// <summary>
    /// When a record's files are missing, unreadable, of mismatched sizes or hold out-of-range ids, skip the record,
    /// count it and log it (through the MLContext's log) instead of throwing. Default false: a bad record is an error.
    /// </summary>
    public bool SkipInvalidRecords { get; init; }

    /// <summary>The most pixels (width·height) an image or a mask may have, read from the file's header before it is
    /// decoded; a larger one is an invalid record. Default <see cref="ReaderLimits.DefaultMaxPixels"/> (8192·8192).</summary>
    public long MaxPixels { get; init; } = ReaderLimits.DefaultMaxPixels;
}

/// <summary>
/// PASCAL VOC 2012 semantic and instance segmentation: the class names, the devkit's colour palette, and a lazy
/// IDataView over a split (<see cref="DatasetCatalog.LoadVocSegmentation"/>).
/// </summary>
/// <remarks>
/// The folder is VOC2012's: <c>JPEGImages/&lt;id&gt;.jpg</c>, <c>SegmentationClass/&lt;id&gt;.png</c> (palette indices:
/// 0 background, 1–20 the classes, 255 void), <c>SegmentationObject/&lt;id&gt;.png</c> (palette indices: 0 background,
/// 1…n the objects in annotation order, 255 void) and <c>ImageSets/Segmentation/&lt;split&gt;.txt</c> (one id a line).
/// Columns, read when a cursor reaches the row:
/// <list type="table">
/// <item><term>Name</term><description>text: the image id, e.g. 2007_000032.</description></item>
/// <item><term>Image</term><description>MLImage: the decoded JPEG.</description></item>
/// <item><term>Height, Width</term><description>Int32: the mask's (and image's) size in pixels.</description></item>
/// <item><term>Mask</term><description>Byte vector of Height·Width, row-major: the class id of each pixel, 255 void.</description></item>
/// <item><term>InstanceCount</term><description>Int32: n, the objects present in SegmentationObject.</description></item>
/// <item><term>InstanceMasks</term><description>Boolean vector of n·Height·Width: object i's pixels in slice i,
/// objects in increasing id order.</description></item>
/// <item><term>InstanceClasses</term><description>Int32 vector of n: each object's class id (1–20), the class its
/// pixels carry in SegmentationClass.</description></item>
/// <item><term>InstanceBoxes</term><description>Single vector of 4n: each object's tightest box around its pixels as
/// (left, top, right, bottom) pixel edges, right and bottom exclusive (ML.NET's object-detection order), so a single
/// pixel at (x, y) has box (x, y, x+1, y+1).</description></item>
/// </list>
/// Boxes come from the masks, not from <c>Annotations/*.xml</c> (whose boxes also cover occluded parts).
/// The image is checked against the mask's size when both are read in the same row.
/// </remarks>
public static class VocSegmentation
{
    /// <summary>The 21 class names in id order, background first (VOCdevkit's VOCopts.classes after "background").</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
    [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ];

    /// <summary>The void label: boundaries and ambiguous pixels, ignored by the devkit's evaluation.</summary>
    public const byte VoidLabel = 255;

    /// <summary>
    /// The devkit's 256-colour palette (VOClabelcolormap.m): bits 0, 1, 2 of the index set, from the most significant
    /// bit down, bits of R, G, B, then bits 3, 4, 5 and 6, 7 the next ones. Index 1 is (128, 0, 0), 15 (person) is
    /// (192, 128, 128), 255 (void) is (224, 224, 192).
    /// </summary>
    public static IReadOnlyList<(byte R, byte G, byte B)> Palette { get; } = Enumerable.Range(0, 256).Select(ColourOf).ToArray();

    private static (byte R, byte G, byte B) ColourOf(int index)
    {
        int r = 0, g = 0, b = 0;
        for (int shift = 7, id = index; id > 0; shift--, id >>= 3)
        {
            r |= (id & 1) << shift;
            g |= ((id >> 1) & 1) << shift;
            b |= ((id >> 2) & 1) << shift;
        }
        return ((byte)r, (byte)g, (byte)b);
    }

    internal static IDataView Load(IHostEnvironment environment, string root, string split, VocSegmentationOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentException.ThrowIfNullOrEmpty(split);
        ArgumentNullException.ThrowIfNull(options);
        string folder = Path.GetFullPath(root);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The VOC folder '{folder}' does not exist.");
        string images = RequireFolder(folder, "JPEGImages"), classes = RequireFolder(folder, "SegmentationClass"),
            objects = RequireFolder(folder, "SegmentationObject"), splits = RequireFolder(folder, Path.Combine("ImageSets", "Segmentation"));
        string splitFile = Path.Combine(splits, split + ".txt");
        if (!File.Exists(splitFile))
            throw new FileNotFoundException($"The VOC split file '{splitFile}' does not exist; '{splits}' has " +
                $"{string.Join(", ", Directory.EnumerateFiles(splits, "*.txt").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).DefaultIfEmpty("no split files"))}.",
                splitFile);
        var records = new List<VocRecord>();
        string[] lines = File.ReadAllLines(splitFile);
        for (int line = 0; line < lines.Length; line++)
        {
            // Segmentation splits hold one id a line; the classification splits' second column (±1) is ignored.
            string name = lines[line].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
            if (name.Length == 0) continue;
            var record = new VocRecord(name, Path.Combine(images, name + ".jpg"), Path.Combine(classes, name + ".png"), Path.Combine(objects, name + ".png"));
            string? missing = new[] { record.ImagePath, record.ClassPath, record.ObjectPath }.FirstOrDefault(p => !File.Exists(p));
            if (missing is null)
            {
                records.Add(record);
                continue;
            }
            string problem = $"VOC split '{splitFile}', line {line + 1} ({name}): the file '{missing}' does not exist.";
            if (!options.SkipInvalidRecords) throw new FileNotFoundException(problem, missing);
            RecordDataView<VocRecord, VocRow>.Warn(environment, "VOC reader", problem + " Skipped, as the reader's options ask.");
        }
        if (records.Count == 0) throw new InvalidDataException($"The VOC split file '{splitFile}' lists no readable images.");

        RecordColumn<VocRow>[] columns =
        [
            RecordColumn<VocRow>.Scalar("Name", TextDataViewType.Instance, row => row.Record.Name.AsMemory()),
            RecordColumn<VocRow>.Scalar("Image", new ImageDataViewType(), row => row.Image()),
            RecordColumn<VocRow>.Scalar("Height", NumberDataViewType.Int32, row => row.Classes.Value.Height),
            RecordColumn<VocRow>.Scalar("Width", NumberDataViewType.Int32, row => row.Classes.Value.Width),
            RecordColumn<VocRow>.Vector("Mask", new VectorDataViewType(NumberDataViewType.Byte), row => row.Classes.Value.Values),
            RecordColumn<VocRow>.Scalar("InstanceCount", NumberDataViewType.Int32, row => row.Instances.Value.Classes.Length),
            RecordColumn<VocRow>.Vector("InstanceMasks", new VectorDataViewType(BooleanDataViewType.Instance), row => row.Instances.Value.Masks),
            RecordColumn<VocRow>.Vector("InstanceClasses", new VectorDataViewType(NumberDataViewType.Int32), row => row.Instances.Value.Classes),
            RecordColumn<VocRow>.Vector("InstanceBoxes", new VectorDataViewType(NumberDataViewType.Single), row => row.Instances.Value.Boxes),
        ];
        return new RecordDataView<VocRecord, VocRow>(environment, "VOC reader", records, columns, r => new VocRow(r, options.MaxPixels),
            r => r.Name, options.SkipInvalidRecords);
    }

    private static string RequireFolder(string root, string name)
    {
        string path = Path.Combine(root, name);
        if (Directory.Exists(path)) return path;
        string hint = Directory.Exists(Path.Combine(root, "VOC2012")) ? $" (did you mean '{Path.Combine(root, "VOC2012")}'?)" : "";
        throw new DirectoryNotFoundException($"The VOC folder '{root}' has no '{name}' folder{hint}; expected VOC2012's layout.");
    }

    private sealed record VocRecord(string Name, string ImagePath, string ClassPath, string ObjectPath);

    private sealed record VocInstances(bool[] Masks, int[] Classes, float[] Boxes);

    private sealed class VocRow
    {
        private readonly long maxPixels;

        public VocRow(VocRecord record, long maxPixels)
        {
            Record = record;
            this.maxPixels = maxPixels;
            Classes = new Lazy<LabelMap>(ReadClasses);
            Instances = new Lazy<VocInstances>(ReadInstances);
        }

        public VocRecord Record { get; }

        public Lazy<LabelMap> Classes { get; }

        public Lazy<VocInstances> Instances { get; }

        public MLImage Image() => ImageFiles.DecodeMatching(Record.ImagePath, Classes.Value, Record.ClassPath, maxPixels);

        private LabelMap ReadClasses()
        {
            LabelMap map = PngLabelMap.Read(Record.ClassPath, maxPixels);
            for (int i = 0; i < map.Values.Length; i++)
            {
                byte value = map.Values[i];
                if (value >= ClassNames.Count && value != VoidLabel)
                    throw new InvalidDataException($"the class mask '{Record.ClassPath}' has class id {value} at (x {i % map.Width}, y {i / map.Width}); " +
                        $"VOC's ids are 0–{ClassNames.Count - 1} and {VoidLabel} (void).");
            }
            return map;
        }

        private VocInstances ReadInstances()
        {
            LabelMap classes = Classes.Value, objects = PngLabelMap.Read(Record.ObjectPath, maxPixels);
            if (objects.Width != classes.Width || objects.Height != classes.Height)
                throw new InvalidDataException($"the object mask '{Record.ObjectPath}' is {objects.Width}×{objects.Height} but the class mask '{Record.ClassPath}' is {classes.Width}×{classes.Height}.");
            int width = objects.Width, plane = objects.Values.Length;
            int[] ids = objects.Values.Where(v => v != 0 && v != VoidLabel).Distinct().Order().Select(v => (int)v).ToArray();
            long cells = (long)ids.Length * plane;
            if (cells > Array.MaxLength)
                throw new InvalidDataException($"the object mask '{Record.ObjectPath}' has {ids.Length} objects of {objects.Width}×{objects.Height} pixels: " +
                    $"{cells} mask cells, more than one array holds.");
            var masks = new bool[cells];
            var classIds = new int[ids.Length];
            var boxes = new float[ids.Length * 4];
            for (int k = 0; k < ids.Length; k++)
            {
                int left = int.MaxValue, top = int.MaxValue, right = -1, bottom = -1, classId = -1;
                for (int i = 0; i < plane; i++)
                {
                    if (objects.Values[i] != ids[k]) continue;
                    int x = i % width, y = i / width, c = classes.Values[i];
                    if (c is 0 or VoidLabel || (classId >= 0 && c != classId))
                        throw new InvalidDataException($"object {ids[k]} of '{Record.ObjectPath}' covers class {c} at (x {x}, y {y}) in '{Record.ClassPath}'" +
                            (classId >= 0 ? $" but class {classId} elsewhere" : "") + "; an object's pixels must all carry one object class.");
                    classId = c;
                    masks[k * plane + i] = true;
                    left = Math.Min(left, x);
                    right = Math.Max(right, x);
                    top = Math.Min(top, y);
                    bottom = y;
                }
                classIds[k] = classId;
                boxes[4 * k] = left;
                boxes[4 * k + 1] = top;
                boxes[4 * k + 2] = right + 1;
                boxes[4 * k + 3] = bottom + 1;
            }
            return new VocInstances(masks, classIds, boxes);
        }
    }
}
