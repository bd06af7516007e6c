using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>How the values stored in a mask PNG become class ids.</summary>
public enum MaskEncoding
{
    /// <summary>Each value is a class id (0 background), 255 void: VOC's convention.</summary>
    ClassIds,

    /// <summary>Foreground/background masks: 0 is background (class 0), any other value foreground (class 1), as
    /// white-on-black masks are saved.</summary>
    Binary,
}

/// <summary>Options of <see cref="DatasetCatalog.LoadSegmentationFolder"/>.</summary>
public sealed record ImageFolderSegmentationOptions
{
    /// <summary>How mask values map to class ids. Default <see cref="MaskEncoding.ClassIds"/>.</summary>
    public MaskEncoding MaskEncoding { get; init; } = MaskEncoding.ClassIds;

    /// <summary>When set, a mask value that is neither below it nor 255 (void) is an error. Default null (not checked
    /// here; the evaluators check against their class count).</summary>
    public int? ClassCount { get; init; }

    /// <summary>Skip records whose files are unreadable or mismatched, counting and logging them, instead of throwing.
    /// Default false.</summary>
    public bool SkipInvalidRecords { get; init; }

    /// <summary>The most pixels (width·height) an image or a mask may have, read from the file's header before it is
    /// decoded; a larger one is an invalid record. Default <see cref="ReaderLimits.DefaultMaxPixels"/> (8192·8192).</summary>
    public long MaxPixels { get; init; } = ReaderLimits.DefaultMaxPixels;
}

/// <summary>
/// A plain folder of labelled images for segmentation: <c>images/&lt;name&gt;.&lt;ext&gt;</c> (jpg, jpeg, png, bmp,
/// gif, webp) and <c>masks/&lt;name&gt;.png</c>, a palette or grayscale PNG of the same size holding each pixel's
/// class id (or a binary mask, <see cref="MaskEncoding.Binary"/>). Records are the images in ordinal name order.
/// Columns: Name (text, the file name without extension), Image (MLImage), Height and Width (Int32, the mask's),
/// Mask (Byte vector of Height·Width, row-major). An image without a mask, a mask without an image, two images with
/// one name, and any other file in the two folders are errors: nothing is left out silently.
/// </summary>
internal static class ImageFolderSegmentation
{
    internal static IDataView Load(IHostEnvironment environment, string root, ImageFolderSegmentationOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(options);
        if (options.ClassCount is < 1 or > 255)
            throw new ArgumentOutOfRangeException(nameof(options), options.ClassCount, "ClassCount must be between 1 and 255 (255 is void).");
        string folder = Path.GetFullPath(root);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The dataset folder '{folder}' does not exist.");
        string images = Path.Combine(folder, "images"), masks = Path.Combine(folder, "masks");
        foreach (string required in new[] { images, masks })
            if (!Directory.Exists(required))
                throw new DirectoryNotFoundException($"The dataset folder '{folder}' has no '{Path.GetFileName(required)}' folder; expected images/ and masks/ side by side.");

        string[] imageFiles = Directory.EnumerateFiles(images).Order(StringComparer.Ordinal).ToArray();
        string? stray = imageFiles.FirstOrDefault(f => !ImageFiles.IsImage(f));
        if (stray is not null)
            throw new InvalidDataException($"'{stray}' in the images folder is not an image ({string.Join(", ", ImageFiles.Extensions.Order())}); move it out of the dataset.");
        string? twin = imageFiles.GroupBy(Path.GetFileNameWithoutExtension, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (twin is not null) throw new InvalidDataException($"The images folder '{images}' has several images named '{twin}'; each name needs exactly one mask.");
        var maskFiles = Directory.EnumerateFiles(masks).ToHashSet(StringComparer.Ordinal);
        string? orphan = maskFiles.Order(StringComparer.Ordinal).FirstOrDefault(m =>
            !string.Equals(Path.GetExtension(m), ".png", StringComparison.OrdinalIgnoreCase)
            || !imageFiles.Any(i => Path.GetFileNameWithoutExtension(i) == Path.GetFileNameWithoutExtension(m)));
        if (orphan is not null)
            throw new InvalidDataException($"The mask '{orphan}' has no image of the same name in '{images}' (or is not a .png); every mask needs its image.");

        var records = new List<FolderRecord>();
        foreach (string image in imageFiles)
        {
            string name = Path.GetFileNameWithoutExtension(image), mask = Path.Combine(masks, name + ".png");
            if (maskFiles.Contains(mask))
            {
                records.Add(new FolderRecord(name, image, mask));
                continue;
            }
            string problem = $"The image '{image}' has no mask '{mask}'.";
            if (!options.SkipInvalidRecords) throw new FileNotFoundException(problem, mask);
            RecordDataView<FolderRecord, FolderRow>.Warn(environment, "Segmentation folder reader", problem + " Skipped, as the reader's options ask.");
        }
        if (records.Count == 0) throw new InvalidDataException($"The dataset folder '{folder}' has no image with a mask.");

        RecordColumn<FolderRow>[] columns =
        [
            RecordColumn<FolderRow>.Scalar("Name", TextDataViewType.Instance, row => row.Record.Name.AsMemory()),
            RecordColumn<FolderRow>.Scalar("Image", new ImageDataViewType(), row => row.Image()),
            RecordColumn<FolderRow>.Scalar("Height", NumberDataViewType.Int32, row => row.Mask.Value.Height),
            RecordColumn<FolderRow>.Scalar("Width", NumberDataViewType.Int32, row => row.Mask.Value.Width),
            RecordColumn<FolderRow>.Vector("Mask", new VectorDataViewType(NumberDataViewType.Byte), row => row.Mask.Value.Values),
        ];
        return new RecordDataView<FolderRecord, FolderRow>(environment, "Segmentation folder reader", records, columns,
            r => new FolderRow(r, options), r => r.Name, options.SkipInvalidRecords);
    }

    private sealed record FolderRecord(string Name, string ImagePath, string MaskPath);

    private sealed class FolderRow
    {
        private readonly ImageFolderSegmentationOptions options;

        public FolderRow(FolderRecord record, ImageFolderSegmentationOptions options)
        {
            Record = record;
            this.options = options;
            Mask = new Lazy<LabelMap>(ReadMask);
        }

        public FolderRecord Record { get; }

        public Lazy<LabelMap> Mask { get; }

        public MLImage Image() => ImageFiles.DecodeMatching(Record.ImagePath, Mask.Value, Record.MaskPath, options.MaxPixels);

        private LabelMap ReadMask()
        {
            LabelMap map = PngLabelMap.Read(Record.MaskPath, options.MaxPixels);
            byte[] values = map.Values;
            if (options.MaskEncoding == MaskEncoding.Binary)
                for (int i = 0; i < values.Length; i++) values[i] = values[i] == 0 ? (byte)0 : (byte)1;
            else if (options.ClassCount is int classes)
                for (int i = 0; i < values.Length; i++)
                    if (values[i] >= classes && values[i] != 255)
                        throw new InvalidDataException($"the mask '{Record.MaskPath}' has class id {values[i]} at (x {i % map.Width}, y {i / map.Width}); " +
                            $"ids must be below ClassCount {classes}, or 255 (void).");
            return map;
        }
    }
}
