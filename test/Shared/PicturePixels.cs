using Microsoft.ML.Data;

namespace Crate.Testing;

/// <summary>Reading back the pictures the library draws: one pixel as RGB, whatever channel order MLImage keeps.</summary>
internal static class PicturePixels
{
    public static (byte R, byte G, byte B) At(MLImage image, int x, int y)
    {
        ReadOnlySpan<byte> p = image.Pixels;
        int o = 4 * (y * image.Width + x);
        return image.PixelFormat == MLPixelFormat.Bgra32 ? (p[o + 2], p[o + 1], p[o]) : (p[o], p[o + 1], p[o + 2]);
    }
}
