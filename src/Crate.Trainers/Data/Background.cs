using Crate.Trainers.Augmentation;

namespace Crate.Trainers.Data;

/// <summary>
/// Cluttered backgrounds: a smooth field of muted colours (a coarse random grid, bilinearly interpolated), a few
/// thin straight lines of any colour, and faint pixel noise. None of it has an object's outline or a repeating
/// texture, so the object is what the image is about.
/// </summary>
internal static class Background
{
    /// <summary>RGB floats in [0, 1], row-major, 3 per pixel.</summary>
    public static float[] Paint(int width, int height, ref SplitMix64 random)
    {
        const int Grid = 4;
        var corners = new (float R, float G, float B)[(Grid + 1) * (Grid + 1)];
        for (int i = 0; i < corners.Length; i++)
            corners[i] = Colour.FromHsv(random.NextDouble(), random.NextDouble(0, 0.35), random.NextDouble(0.3, 0.75));
        var pixels = new float[3 * width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double gx = (x + 0.5) / width * Grid, gy = (y + 0.5) / height * Grid;
                int cx = Math.Min((int)gx, Grid - 1), cy = Math.Min((int)gy, Grid - 1);
                float fx = (float)(gx - cx), fy = (float)(gy - cy);
                (float R, float G, float B) c00 = corners[cy * (Grid + 1) + cx], c10 = corners[cy * (Grid + 1) + cx + 1];
                (float R, float G, float B) c01 = corners[(cy + 1) * (Grid + 1) + cx], c11 = corners[(cy + 1) * (Grid + 1) + cx + 1];
                int o = 3 * (y * width + x);
                pixels[o] = Bilinear(c00.R, c10.R, c01.R, c11.R, fx, fy);
                pixels[o + 1] = Bilinear(c00.G, c10.G, c01.G, c11.G, fx, fy);
                pixels[o + 2] = Bilinear(c00.B, c10.B, c01.B, c11.B, fx, fy);
            }
        int lines = 2 + random.NextInt(4);
        for (int l = 0; l < lines; l++)
        {
            double x0 = random.NextDouble(0, width), y0 = random.NextDouble(0, height);
            double x1 = random.NextDouble(0, width), y1 = random.NextDouble(0, height);
            (float R, float G, float B) colour = Colour.FromHsv(random.NextDouble(), random.NextDouble(0, 1), random.NextDouble(0.2, 1));
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    if (DistanceToSegment(x + 0.5, y + 0.5, x0, y0, x1, y1) <= 0.5)
                    {
                        int o = 3 * (y * width + x);
                        (pixels[o], pixels[o + 1], pixels[o + 2]) = colour;
                    }
        }
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = Math.Clamp(pixels[i] + (float)random.NextDouble(-0.03, 0.03), 0, 1);
        return pixels;
    }

    private static float Bilinear(float c00, float c10, float c01, float c11, float fx, float fy) =>
        (1 - fy) * ((1 - fx) * c00 + fx * c10) + fy * ((1 - fx) * c01 + fx * c11);

    private static double DistanceToSegment(double px, double py, double x0, double y0, double x1, double y1)
    {
        double dx = x1 - x0, dy = y1 - y0, length = dx * dx + dy * dy;
        double t = length == 0 ? 0 : Math.Clamp(((px - x0) * dx + (py - y0) * dy) / length, 0, 1);
        double cx = x0 + t * dx - px, cy = y0 + t * dy - py;
        return Math.Sqrt(cx * cx + cy * cy);
    }
}
