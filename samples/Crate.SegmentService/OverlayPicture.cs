using System.Runtime.InteropServices;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Visualization;
using Microsoft.ML.Data;
using SkiaSharp;

namespace Crate.SegmentService;

/// <summary>What <c>POST /segment/overlay</c> returns: the image with MaskCut's masks tinted and outlined, one colour per
/// object, and their boxes (<see cref="SegmentationPictures.MasksWithBoxes"/>), as PNG.</summary>
public static class OverlayPicture
{
    /// <summary>The PNG of <paramref name="image"/> with the objects of <paramref name="row"/> drawn over it.</summary>
    public static byte[] Png(MLImage image, SegmentationRow row)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(row);
        IReadOnlyList<MaskCutDetection> objects = row.Objects();
        ImagePixels pixels = ImageColumn.FromImage(image, "upload", 0);
        using MLImage overlay = SegmentationPictures.MasksWithBoxes(pixels,
            objects.Select(o => o.Mask.Cells.ToArray()).ToArray(),
            objects.Select(o => ((int)o.X0, (int)o.Y0, (int)(o.X1 - o.X0) + 1, (int)(o.Y1 - o.Y0) + 1)).ToArray());
        return Encode(overlay);
    }

    /// <summary>An MLImage (RGBA or BGRA, 8 bits a channel) as PNG bytes.</summary>
    private static byte[] Encode(MLImage image)
    {
        SKColorType colorType = image.PixelFormat switch
        {
            MLPixelFormat.Rgba32 => SKColorType.Rgba8888,
            MLPixelFormat.Bgra32 => SKColorType.Bgra8888,
            _ => throw new InvalidOperationException($"An overlay in pixel format {image.PixelFormat} cannot be encoded."),
        };
        var info = new SKImageInfo(image.Width, image.Height, colorType, SKAlphaType.Unpremul);
        ReadOnlySpan<byte> source = image.Pixels;
        using var bitmap = new SKBitmap(info);
        Marshal.Copy(source.ToArray(), 0, bitmap.GetPixels(), source.Length);
        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
