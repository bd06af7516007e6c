using Crate.Transforms.MLNet;
using Microsoft.ML.Data;

namespace Crate.Transforms.Visualization;

/// <summary>An RGBA pixel buffer the pictures are drawn on, saved through MLImage (no imaging dependency of our own).</summary>
internal sealed class Canvas
{
    private readonly byte[] rgba;

    public Canvas(int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"A picture of {width}×{height} is empty.");
        Width = width;
        Height = height;
        rgba = new byte[4 * width * height];
        for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>A canvas holding <paramref name="image"/>, each pixel drawn as a <paramref name="scale"/> × <paramref name="scale"/> block.</summary>
    public static Canvas Of(ImagePixels image, int scale = 1)
    {
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be at least 1.");
        var canvas = new Canvas(image.Width * scale, image.Height * scale);
        int plane = image.Width * image.Height;
        for (int y = 0; y < canvas.Height; y++)
            for (int x = 0; x < canvas.Width; x++)
            {
                int i = y / scale * image.Width + x / scale;
                canvas.Set(x, y, (image.Pixels[i], image.Pixels[plane + i], image.Pixels[2 * plane + i]));
            }
        return canvas;
    }

    /// <summary>Sets a pixel from RGB in [0, 1].</summary>
    public void Set(int x, int y, (float R, float G, float B) colour)
    {
        int offset = 4 * (y * Width + x);
        rgba[offset] = ToByte(colour.R);
        rgba[offset + 1] = ToByte(colour.G);
        rgba[offset + 2] = ToByte(colour.B);
    }

    /// <summary>Mixes <paramref name="colour"/> into a pixel with weight <paramref name="alpha"/>.</summary>
    public void Blend(int x, int y, (float R, float G, float B) colour, float alpha)
    {
        int offset = 4 * (y * Width + x);
        rgba[offset] = ToByte((1 - alpha) * rgba[offset] / 255f + alpha * colour.R);
        rgba[offset + 1] = ToByte((1 - alpha) * rgba[offset + 1] / 255f + alpha * colour.G);
        rgba[offset + 2] = ToByte((1 - alpha) * rgba[offset + 2] / 255f + alpha * colour.B);
    }

    /// <summary>The pixel as RGB in [0, 1].</summary>
    public (float R, float G, float B) Get(int x, int y)
    {
        int offset = 4 * (y * Width + x);
        return (rgba[offset] / 255f, rgba[offset + 1] / 255f, rgba[offset + 2] / 255f);
    }

    /// <summary>Copies <paramref name="tile"/> with its top-left corner at (<paramref name="left"/>, <paramref name="top"/>).</summary>
    public void Paste(Canvas tile, int left, int top)
    {
        for (int y = 0; y < tile.Height && top + y < Height; y++)
            for (int x = 0; x < tile.Width && left + x < Width; x++)
                Set(left + x, top + y, tile.Get(x, y));
    }

    /// <summary>A filled rectangle; the part outside the canvas is left out.</summary>
    public void FillRectangle(int left, int top, int width, int height, (float R, float G, float B) colour)
    {
        for (int y = Math.Max(0, top); y < Math.Min(Height, top + height); y++)
            for (int x = Math.Max(0, left); x < Math.Min(Width, left + width); x++)
                Set(x, y, colour);
    }

    /// <summary>A one-pixel rectangle outline.</summary>
    public void Rectangle(int left, int top, int width, int height, (float R, float G, float B) colour)
    {
        for (int x = left; x < left + width; x++)
        {
            if (x < 0 || x >= Width) continue;
            if (top >= 0 && top < Height) Set(x, top, colour);
            int bottom = top + height - 1;
            if (bottom >= 0 && bottom < Height) Set(x, bottom, colour);
        }
        for (int y = top; y < top + height; y++)
        {
            if (y < 0 || y >= Height) continue;
            if (left >= 0 && left < Width) Set(left, y, colour);
            int right = left + width - 1;
            if (right >= 0 && right < Width) Set(right, y, colour);
        }
    }

    public MLImage ToImage() => MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Rgba32, rgba);

    private static byte ToByte(float value) => (byte)Math.Clamp(MathF.Round(value * 255f), 0, 255);
}
