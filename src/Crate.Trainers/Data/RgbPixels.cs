using Microsoft.ML.Data;

namespace Crate.Trainers.Data;

/// <summary>Conversions of the painters' pixels: RGB floats to bytes, bytes and masks to MLImages.</summary>
internal static class RgbPixels
{
    /// <summary>RGB floats in [0, 1] to bytes, rounded to nearest.</summary>
    public static byte[] ToBytes(float[] pixels)
    {
        var bytes = new byte[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) bytes[i] = (byte)Math.Clamp(MathF.Round(pixels[i] * 255f), 0, 255);
        return bytes;
    }

    /// <summary>Row-major RGB bytes, 3 per pixel, as an opaque RGBA MLImage.</summary>
    public static MLImage ToImage(int width, int height, byte[] rgb)
    {
        var rgba = new byte[4 * width * height];
        for (int i = 0; i < width * height; i++)
        {
            rgba[4 * i] = rgb[3 * i];
            rgba[4 * i + 1] = rgb[3 * i + 1];
            rgba[4 * i + 2] = rgb[3 * i + 2];
            rgba[4 * i + 3] = 255;
        }
        return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
    }

    /// <summary>A mask as an MLImage: white where true, black elsewhere.</summary>
    public static MLImage MaskImage(int width, int height, bool[] mask)
    {
        var rgba = new byte[4 * width * height];
        for (int i = 0; i < mask.Length; i++)
        {
            byte v = mask[i] ? (byte)255 : (byte)0;
            rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = v;
            rgba[4 * i + 3] = 255;
        }
        return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
    }
}
