using Crate.Transforms.MLNet;
using Microsoft.ML.Data;

namespace Crate.Transforms.Visualization;

/// <summary>
/// Pictures of what CRATE's read-outs show, as MLImage (save with <c>image.Save("x.png")</c>): a head's attention
/// heatmap over the image, all heads of a layer in a grid, mask overlays with outlines, the PCA RGB map, and
/// MaskCut's masks with their boxes. Maps on a patch grid are stretched over the whole image (nearest patch);
/// <c>scale</c> draws each image pixel as a block, for small images.
/// </summary>
public static class SegmentationPictures
{
    private static readonly (float R, float G, float B)[] Palette =
    [
        (0.90f, 0.10f, 0.10f), (0.10f, 0.60f, 0.95f), (0.15f, 0.80f, 0.20f), (0.95f, 0.75f, 0.10f),
        (0.70f, 0.20f, 0.85f), (0.10f, 0.85f, 0.80f), (0.95f, 0.45f, 0.10f), (0.95f, 0.30f, 0.65f),
    ];

    /// <summary>The attention map <paramref name="map"/> (h·w values, row-major) as a heatmap blended over the image.</summary>
    public static MLImage Heatmap(ImagePixels image, ReadOnlySpan<float> map, int gridHeight, int gridWidth, float opacity = 0.6f, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        return HeatmapCanvas(image, map, gridHeight, gridWidth, opacity, scale).ToImage();
    }

    /// <summary>Every head's heatmap side by side, <paramref name="columns"/> per row; <paramref name="maps"/> is [heads, h, w].</summary>
    public static MLImage HeadGrid(ImagePixels image, ReadOnlySpan<float> maps, int heads, int gridHeight, int gridWidth, int columns = 4,
        float opacity = 0.6f, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckLength(maps.Length, heads * gridHeight * gridWidth, "maps", $"[{heads}, {gridHeight}, {gridWidth}]");
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "At least one column.");
        columns = Math.Min(columns, heads);
        int rows = (heads + columns - 1) / columns, gap = 2, width = image.Width * scale, height = image.Height * scale;
        var sheet = new Canvas(columns * (width + gap) - gap, rows * (height + gap) - gap);
        for (int k = 0; k < heads; k++)
        {
            Canvas tile = HeatmapCanvas(image, maps.Slice(k * gridHeight * gridWidth, gridHeight * gridWidth), gridHeight, gridWidth, opacity, scale);
            sheet.Paste(tile, k % columns * (width + gap), k / columns * (height + gap));
        }
        return sheet.ToImage();
    }

    /// <summary>
    /// <see cref="HeadGrid"/> with its legend, on white: "LAYER <paramref name="layer"/>" above the grid, "HEAD k"
    /// (0-based, as the read-outs count) above each head's tile, and on the right a colour bar from the colour of a
    /// head's lowest attention ("LOW", at the bottom) to that of its highest ("HIGH", at the top), in the ramp's full
    /// colours (the tiles blend them over the image at <paramref name="opacity"/>): each head's map is stretched to the
    /// full ramp on its own, so colours compare places within a head, not heads.
    /// </summary>
    /// <remarks>Layout, in picture pixels with t = max(1, min(tile width, tile height) / 128) pixels per font pixel: a
    /// caption strip of 11·t above the grid and above each row of tiles (text 7·t high at 2·t from its top), tiles
    /// <paramref name="scale"/> × the image's size 2 apart as in <see cref="HeadGrid"/>, then 4·t of white, the bar 6·t
    /// wide beside the tiles (from the first row's top to the last row's bottom) and its labels 2·t to its right.</remarks>
    public static MLImage LabelledHeadGrid(ImagePixels image, ReadOnlySpan<float> maps, int heads, int gridHeight, int gridWidth, int layer,
        int columns = 4, float opacity = 0.6f, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckLength(maps.Length, heads * gridHeight * gridWidth, "maps", $"[{heads}, {gridHeight}, {gridWidth}]");
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "At least one column.");
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be at least 1.");
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        columns = Math.Min(columns, heads);
        int rows = (heads + columns - 1) / columns, gap = 2, width = image.Width * scale, height = image.Height * scale;
        int t = Math.Max(1, Math.Min(width, height) / 128), caption = 11 * t, barWidth = 6 * t;
        int gridRight = columns * (width + gap) - gap, barLeft = gridRight + 4 * t;
        int rowHeight = caption + height + gap, tilesTop = caption + caption;
        int sheetWidth = Math.Max(barLeft + barWidth + 2 * t + PixelFont.Measure("HIGH", t), PixelFont.Measure($"LAYER {layer}", t));
        var sheet = new Canvas(sheetWidth, caption + rows * rowHeight - gap);
        (float R, float G, float B) white = (1, 1, 1), ink = (0, 0, 0);
        sheet.FillRectangle(0, 0, sheet.Width, sheet.Height, white);
        PixelFont.Draw(sheet, $"LAYER {layer}", 0, 2 * t, t, ink);
        for (int k = 0; k < heads; k++)
        {
            int left = k % columns * (width + gap), top = caption + k / columns * rowHeight;
            PixelFont.Draw(sheet, $"HEAD {k}", left, top + 2 * t, t, ink);
            sheet.Paste(HeatmapCanvas(image, maps.Slice(k * gridHeight * gridWidth, gridHeight * gridWidth), gridHeight, gridWidth, opacity, scale),
                left, top + caption);
        }
        int barTop = tilesTop, barBottom = caption + (rows - 1) * rowHeight + caption + height; // exclusive
        for (int y = barTop; y < barBottom; y++)
        {
            float v = barBottom - barTop > 1 ? 1 - (float)(y - barTop) / (barBottom - barTop - 1) : 1;
            sheet.FillRectangle(barLeft, y, barWidth, 1, Colormap(v));
        }
        PixelFont.Draw(sheet, "HIGH", barLeft + barWidth + 2 * t, barTop, t, ink);
        PixelFont.Draw(sheet, "LOW", barLeft + barWidth + 2 * t, barBottom - PixelFont.Height * t, t, ink);
        return sheet.ToImage();
    }

    /// <summary>A mask ([maskHeight, maskWidth], any resolution) tinted over the image, with its outline drawn.</summary>
    public static MLImage MaskOverlay(ImagePixels image, ReadOnlySpan<bool> mask, int maskHeight, int maskWidth, float opacity = 0.45f, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        Canvas canvas = Canvas.Of(image, scale);
        DrawMask(canvas, mask, maskHeight, maskWidth, Palette[0], opacity);
        return canvas.ToImage();
    }

    /// <summary>The PCA colours [3, h, w] in [0, 1], each patch a block of <paramref name="scale"/> pixels.</summary>
    public static MLImage PcaMap(ReadOnlySpan<float> rgb, int gridHeight, int gridWidth, int scale = 16)
    {
        CheckLength(rgb.Length, 3 * gridHeight * gridWidth, "rgb", $"[3, {gridHeight}, {gridWidth}]");
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be at least 1.");
        int plane = gridHeight * gridWidth;
        var canvas = new Canvas(gridWidth * scale, gridHeight * scale);
        for (int y = 0; y < canvas.Height; y++)
            for (int x = 0; x < canvas.Width; x++)
            {
                int cell = y / scale * gridWidth + x / scale;
                canvas.Set(x, y, (rgb[cell], rgb[plane + cell], rgb[2 * plane + cell]));
            }
        return canvas.ToImage();
    }

    /// <summary>Instance masks (each H·W at the image's size) tinted in distinct colours, with their boxes (x, y, w, h, in
    /// image pixels; drawn around the pixels' blocks when <paramref name="scale"/> enlarges the picture).</summary>
    public static MLImage MasksWithBoxes(ImagePixels image, IReadOnlyList<bool[]> masks, IReadOnlyList<(int X, int Y, int Width, int Height)> boxes,
        float opacity = 0.45f, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(boxes);
        if (masks.Count != boxes.Count) throw new ArgumentException($"{masks.Count} masks but {boxes.Count} boxes.", nameof(boxes));
        Canvas canvas = Canvas.Of(image, scale);
        for (int i = 0; i < masks.Count; i++)
        {
            (float R, float G, float B) colour = Palette[i % Palette.Length];
            DrawMask(canvas, masks[i], image.Height, image.Width, colour, opacity);
            canvas.Rectangle(boxes[i].X * scale, boxes[i].Y * scale, boxes[i].Width * scale, boxes[i].Height * scale, colour);
        }
        return canvas.ToImage();
    }

    private static Canvas HeatmapCanvas(ImagePixels image, ReadOnlySpan<float> map, int gridHeight, int gridWidth, float opacity, int scale)
    {
        CheckLength(map.Length, gridHeight * gridWidth, "map", $"[{gridHeight}, {gridWidth}]");
        float low = float.MaxValue, high = float.MinValue;
        foreach (float v in map)
        {
            low = Math.Min(low, v);
            high = Math.Max(high, v);
        }
        Canvas canvas = Canvas.Of(image, scale);
        for (int y = 0; y < canvas.Height; y++)
            for (int x = 0; x < canvas.Width; x++)
            {
                float v = map[y * gridHeight / canvas.Height * gridWidth + x * gridWidth / canvas.Width];
                canvas.Blend(x, y, Colormap(high > low ? (v - low) / (high - low) : 0), opacity);
            }
        return canvas;
    }

    private static void DrawMask(Canvas canvas, ReadOnlySpan<bool> mask, int maskHeight, int maskWidth, (float R, float G, float B) colour, float opacity)
    {
        CheckLength(mask.Length, maskHeight * maskWidth, "mask", $"[{maskHeight}, {maskWidth}]");
        bool At(ReadOnlySpan<bool> m, int x, int y) =>
            x >= 0 && y >= 0 && x < canvas.Width && y < canvas.Height && m[y * maskHeight / canvas.Height * maskWidth + x * maskWidth / canvas.Width];
        for (int y = 0; y < canvas.Height; y++)
            for (int x = 0; x < canvas.Width; x++)
            {
                if (!At(mask, x, y)) continue;
                bool edge = !At(mask, x - 1, y) || !At(mask, x + 1, y) || !At(mask, x, y - 1) || !At(mask, x, y + 1);
                if (edge) canvas.Set(x, y, colour);
                else canvas.Blend(x, y, colour, opacity);
            }
    }

    /// <summary>A perceptually ordered dark-blue → teal → yellow ramp (viridis-like), t in [0, 1].</summary>
    private static (float R, float G, float B) Colormap(float t)
    {
        (float R, float G, float B)[] stops = [(0.27f, 0.00f, 0.33f), (0.23f, 0.32f, 0.55f), (0.13f, 0.57f, 0.55f), (0.37f, 0.79f, 0.38f), (0.99f, 0.91f, 0.14f)];
        float scaled = Math.Clamp(t, 0, 1) * (stops.Length - 1);
        int i = Math.Min((int)scaled, stops.Length - 2);
        float f = scaled - i;
        return (stops[i].R + f * (stops[i + 1].R - stops[i].R), stops[i].G + f * (stops[i + 1].G - stops[i].G), stops[i].B + f * (stops[i + 1].B - stops[i].B));
    }

    private static void CheckLength(int actual, int expected, string name, string shape)
    {
        if (actual != expected) throw new ArgumentException($"'{name}' has {actual} values; expected {expected} for shape {shape}.", name);
    }
}
