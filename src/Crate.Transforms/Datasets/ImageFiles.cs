using Microsoft.ML.Data;
using SkiaSharp;

namespace Crate.Transforms.Datasets;

/// <summary>Which files the folder readers take for images, and their decoding with errors that name the file.</summary>
internal static class ImageFiles
{
    /// <summary>The extensions read as images (case-insensitive): what MLImage (SkiaSharp) decodes.</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>([".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="path"/> has an image extension.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Decodes the image at <paramref name="path"/>; a missing or undecodable file, or one of more than
    /// <paramref name="maxPixels"/> pixels by its header (checked before decoding), is an error naming it.</summary>
    public static MLImage Decode(string path, long maxPixels)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"the image file '{path}' does not exist.", path);
        using (SKCodec? codec = SKCodec.Create(path))
        {
            // No codec: the decode below names the problem as it always has.
            if (codec is not null && (long)codec.Info.Width * codec.Info.Height > maxPixels)
                throw new InvalidDataException($"the image file '{path}' is {codec.Info.Width}×{codec.Info.Height} = " +
                    $"{(long)codec.Info.Width * codec.Info.Height} pixels, more than the reader's MaxPixels {maxPixels}.");
        }
        MLImage image;
        try
        {
            image = MLImage.CreateFromFile(path);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException($"the image file '{path}' cannot be decoded ({e.Message}).", e);
        }
        if (image.Width == 0 || image.Height == 0)
        {
            image.Dispose();
            throw new InvalidDataException($"the image file '{path}' decodes to an empty image.");
        }
        return image;
    }

    /// <summary>Decodes the image at <paramref name="path"/> and checks it has the size of its mask <paramref name="mask"/>,
    /// read from <paramref name="maskPath"/>.</summary>
    public static MLImage DecodeMatching(string path, LabelMap mask, string maskPath, long maxPixels)
    {
        MLImage image = Decode(path, maxPixels);
        (int width, int height) = (image.Width, image.Height);
        if (width == mask.Width && height == mask.Height) return image;
        image.Dispose();
        throw new InvalidDataException($"the image '{path}' is {width}×{height} but its mask '{maskPath}' is {mask.Width}×{mask.Height}.");
    }
}
