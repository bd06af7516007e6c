using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>Options of <see cref="DatasetCatalog.LoadImageFolder"/>.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Also take the images of subfolders, at any depth. Default true.</summary>
    public bool Recursive { get; init; } = true;

    /// <summary>Skip images that cannot be decoded, counting and logging them, instead of throwing. Default false.</summary>
    public bool SkipInvalidRecords { get; init; }

    /// <summary>The most pixels (width·height) an image may have, read from the file's header before it is
    /// decoded; a larger one is an invalid record. Default <see cref="ReaderLimits.DefaultMaxPixels"/> (8192·8192).</summary>
    public long MaxPixels { get; init; } = ReaderLimits.DefaultMaxPixels;

    /// <summary>
    /// Read only this shard's images, each image's shard fixed by its Name (<see cref="ShardPartition"/>): N machines
    /// reading shards 0…N−1 read every image exactly once. Default <see cref="ShardPartition.Whole"/>.
    /// </summary>
    public ShardPartition Shard { get; init; } = ShardPartition.Whole;
}

/// <summary>
/// Unlabelled images in a folder (and its subfolders), for the read-outs: the users' own photos to segment. Records
/// are the images in ordinal order of their paths. Columns: Name (text, the path relative to the folder without the
/// extension, '/'-separated, e.g. "street/0001": what output files are named after), ImagePath (text, the full path)
/// and Image (MLImage, decoded when read). Files without an image extension (jpg, jpeg, png, bmp, gif, webp) are
/// logged as left out; two images whose names differ only in the extension are an error, as their outputs would
/// collide.
/// </summary>
internal static class ImageFolder
{
    internal static IDataView Load(IHostEnvironment environment, string root, ImageFolderOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Shard, "options.Shard");
        string folder = Path.GetFullPath(root);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The image folder '{folder}' does not exist.");
        SearchOption depth = options.Recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly;
        string[] files = Directory.EnumerateFiles(folder, "*", depth)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToArray();
        string[] leftOut = files.Where(f => !ImageFiles.IsImage(f)).ToArray();
        if (leftOut.Length > 0)
            RecordDataView<ImageRecord, ImageRecord>.Warn(environment, "Image folder reader",
                $"Image folder '{folder}': {leftOut.Length} files are not images and are left out: " +
                string.Join(", ", leftOut.Take(10)) + (leftOut.Length > 10 ? ", …" : "") + ".");
        ImageRecord[] records = files.Where(ImageFiles.IsImage)
            .Select(f => new ImageRecord(f[..^Path.GetExtension(f).Length], Path.Combine(folder, f))).ToArray();
        if (records.Length == 0) throw new InvalidDataException($"The image folder '{folder}' has no images ({string.Join(", ", ImageFiles.Extensions.Order())}).");
        string? twin = records.GroupBy(r => r.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (twin is not null)
            throw new InvalidDataException($"The image folder '{folder}' has several images named '{twin}' (differing only in the extension); rename one.");
        // After the checks, so that every shard refuses the same folder; a shard may be empty.
        if (options.Shard.Count > 1) records = records.Where(r => options.Shard.Contains(r.Name)).ToArray();

        RecordColumn<ImageRecord>[] columns =
        [
            RecordColumn<ImageRecord>.Scalar("Name", TextDataViewType.Instance, r => r.Name.AsMemory()),
            RecordColumn<ImageRecord>.Scalar("ImagePath", TextDataViewType.Instance, r => r.ImagePath.AsMemory()),
            RecordColumn<ImageRecord>.Scalar("Image", new ImageDataViewType(), r => ImageFiles.Decode(r.ImagePath, options.MaxPixels)),
        ];
        return new RecordDataView<ImageRecord, ImageRecord>(environment, "Image folder reader", records, columns,
            r => r, r => r.Name, options.SkipInvalidRecords);
    }

    private sealed record ImageRecord(string Name, string ImagePath);
}
