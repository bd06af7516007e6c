using System.Buffers.Binary;
using System.IO.Compression;

namespace Crate.Trainers.Data;

/// <summary>
/// Fashion-MNIST's IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte and the t10k pair, gzip-compressed or
/// not), as Debian's dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist: 28×28 grey photographs
/// of garments, 10 classes. The format: a big-endian magic number (0x00000803 for images, 0x00000801 for labels), the
/// big-endian sizes of each dimension, then one unsigned byte per value.
/// </summary>
internal static class FashionMnistFiles
{
    /// <summary>The ten classes, in label order.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

    /// <summary>The images (one byte per pixel, 0 = no garment) and labels of a split, "train" or "t10k".</summary>
    public static (byte[][] Images, byte[] Labels, int Side) Read(string folder, string split)
    {
        string imagesPath = Find(folder, $"{split}-images-idx3-ubyte"), labelsPath = Find(folder, $"{split}-labels-idx1-ubyte");
        byte[] images = ReadAll(imagesPath), labels = ReadAll(labelsPath);
        (int[] imageShape, int imageOffset) = Header(images, 0x803, 3, imagesPath);
        (int[] labelShape, int labelOffset) = Header(labels, 0x801, 1, labelsPath);
        if (imageShape[0] != labelShape[0])
            throw new InvalidDataException($"'{imagesPath}' holds {imageShape[0]} images but '{labelsPath}' {labelShape[0]} labels.");
        if (imageShape[1] != imageShape[2])
            throw new InvalidDataException($"'{imagesPath}' holds {imageShape[1]}×{imageShape[2]} images; square ones were expected.");
        int side = imageShape[1], count = imageShape[0];
        var pictures = new byte[count][];
        for (int i = 0; i < count; i++) pictures[i] = images.AsSpan(imageOffset + i * side * side, side * side).ToArray();
        byte[] classes = labels.AsSpan(labelOffset, count).ToArray();
        int bad = Array.FindIndex(classes, c => c >= ClassNames.Count);
        if (bad >= 0) throw new InvalidDataException($"'{labelsPath}': label {classes[bad]} of record {bad} is not one of the {ClassNames.Count} classes.");
        return (pictures, classes, side);
    }

    private static string Find(string folder, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name })
            if (File.Exists(Path.Combine(folder, candidate))) return Path.Combine(folder, candidate);
        throw new FileNotFoundException($"Fashion-MNIST: neither {name}.gz nor {name} is in '{folder}' (Debian's dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist).", name);
    }

    private static byte[] ReadAll(string path)
    {
        using FileStream file = File.OpenRead(path);
        using var bytes = new MemoryStream();
        try
        {
            if (path.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                gzip.CopyTo(bytes);
            }
            else file.CopyTo(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid gzip file: {e.Message}", e);
        }
        return bytes.ToArray();
    }

    /// <summary>The dimensions and where the values start, after checking the magic number and the length.</summary>
    private static (int[] Shape, int Offset) Header(byte[] data, int magic, int dimensions, string path)
    {
        int offset = 4 + 4 * dimensions;
        if (data.Length < offset)
            throw new InvalidDataException($"'{path}' is {data.Length} bytes, shorter than an IDX header of {dimensions} dimension(s).");
        int found = BinaryPrimitives.ReadInt32BigEndian(data);
        if (found != magic)
            throw new InvalidDataException($"'{path}' starts with 0x{found:X8}, not the IDX magic number 0x{magic:X8} of unsigned bytes in {dimensions} dimension(s).");
        var shape = new int[dimensions];
        long values = 1;
        for (int d = 0; d < dimensions; d++)
        {
            shape[d] = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4 + 4 * d));
            if (shape[d] < 1) throw new InvalidDataException($"'{path}': dimension {d} has size {shape[d]}.");
            values *= shape[d];
        }
        if (data.Length - offset != values)
            throw new InvalidDataException($"'{path}': the header promises {values} values but {data.Length - offset} bytes follow it.");
        return (shape, offset);
    }
}
