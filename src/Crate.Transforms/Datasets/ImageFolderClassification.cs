using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>Options of <see cref="DatasetCatalog.LoadClassificationFolder"/>.</summary>
public sealed record ImageFolderClassificationOptions
{
    /// <summary>Skip images that cannot be decoded, counting and logging them, instead of throwing. Default false.</summary>
    public bool SkipInvalidRecords { get; init; }

    /// <summary>The most pixels (width·height) an image may have, read from the file's header before it is
    /// decoded; a larger one is an invalid record. Default <see cref="ReaderLimits.DefaultMaxPixels"/> (8192·8192).</summary>
    public long MaxPixels { get; init; } = ReaderLimits.DefaultMaxPixels;
}

/// <summary>
/// A folder per class for image classification: <c>&lt;root&gt;/&lt;class&gt;/&lt;image&gt;</c>, classes and images in
/// ordinal name order. Columns: Label (text, the class folder's name), Image (MLImage, decoded when read) and
/// ImagePath (text, the full path). Files in the root and files without an image extension (jpg, jpeg, png, bmp,
/// gif, webp) inside class folders are not images: each is logged as left out, so none is dropped silently.
/// </summary>
internal static class ImageFolderClassification
{
    internal static IDataView Load(IHostEnvironment environment, string root, ImageFolderClassificationOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(options);
        string folder = Path.GetFullPath(root);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The dataset folder '{folder}' does not exist.");
        var records = new List<ClassRecord>();
        var leftOut = Directory.EnumerateFiles(folder).ToList();
        foreach (string classFolder in Directory.EnumerateDirectories(folder).Order(StringComparer.Ordinal))
        {
            string label = Path.GetFileName(classFolder);
            foreach (string file in Directory.EnumerateFiles(classFolder).Order(StringComparer.Ordinal))
            {
                if (ImageFiles.IsImage(file)) records.Add(new ClassRecord(label, file));
                else leftOut.Add(file);
            }
            leftOut.AddRange(Directory.EnumerateDirectories(classFolder));
        }
        if (leftOut.Count > 0)
            RecordDataView<ClassRecord, ClassRecord>.Warn(environment, "Classification folder reader",
                $"Classification folder '{folder}': {leftOut.Count} entries are not images in a class folder and are left out: " +
                string.Join(", ", leftOut.Take(10).Select(p => Path.GetRelativePath(folder, p))) + (leftOut.Count > 10 ? ", …" : "") + ".");
        if (records.Count == 0)
            throw new InvalidDataException($"The dataset folder '{folder}' has no images in class folders; expected <root>/<class>/<image>.");

        RecordColumn<ClassRecord>[] columns =
        [
            RecordColumn<ClassRecord>.Scalar("Label", TextDataViewType.Instance, r => r.Label.AsMemory()),
            RecordColumn<ClassRecord>.Scalar("Image", new ImageDataViewType(), r => ImageFiles.Decode(r.ImagePath, options.MaxPixels)),
            RecordColumn<ClassRecord>.Scalar("ImagePath", TextDataViewType.Instance, r => r.ImagePath.AsMemory()),
        ];
        return new RecordDataView<ClassRecord, ClassRecord>(environment, "Classification folder reader", records, columns,
            r => r, r => Path.GetRelativePath(folder, r.ImagePath), options.SkipInvalidRecords);
    }

    private sealed record ClassRecord(string Label, string ImagePath);
}
