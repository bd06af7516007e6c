using Crate.Trainers.Augmentation;

namespace Crate.Trainers.Data;

/// <summary>
/// Cluttered backgrounds, painted in layers into RGB floats in [0, 1], row-major, 3 per pixel: a smooth field of
/// muted colours (a coarse random grid, bilinearly interpolated), optionally a faint grating (a texture of no class)
/// and solid distractor outlines, a few thin straight lines of any colour, and faint pixel noise. None of it has
/// an object's textured outline, so the objects are what the image is about.
/// </summary>
internal static class Background
{
    /// <summary>Largest change the pixel noise makes to a channel, unless an image's options say otherwise.</summary>
    public const double NoiseAmplitude = 0.03;

    /// <summary>The shapes dataset's background: smooth field, lines, noise.</summary>
    public static float[] Paint(int width, int height, ref SplitMix64 random)
    {
        float[] pixels = SmoothField(width, height, ref random);
        Lines(pixels, width, height, ref random);
        Noise(pixels, ref random);
        return pixels;
    }

    /// <summary>A smooth field of muted colours: a 5×5 grid of random colours, bilinearly interpolated.</summary>
    public static float[] SmoothField(int width, int height, ref SplitMix64 random)
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
        return pixels;
    }

    /// <summary>
    /// A faint sinusoidal grating over the whole image: brightness ± 0.03…0.10, period 3–9 pixels, any direction.
    /// It is texture that belongs to no class, so texture alone does not say where an object is.
    /// </summary>
    public static void Grating(float[] pixels, int width, int height, ref SplitMix64 random)
    {
        double amplitude = random.NextDouble(0.03, 0.10), period = random.NextDouble(3, 9), direction = random.NextDouble(0, Math.PI);
        double phase = random.NextDouble(0, 2 * Math.PI);
        double kx = 2 * Math.PI * Math.Cos(direction) / period, ky = 2 * Math.PI * Math.Sin(direction) / period;
        // sin(kx·x + ky·y + φ) = sin(kx·x)·cos(ky·y + φ) + cos(kx·x)·sin(ky·y + φ): two products a pixel, no sine.
        var sinX = new double[width];
        var cosX = new double[width];
        for (int x = 0; x < width; x++)
            (sinX[x], cosX[x]) = Math.SinCos(kx * (x + 0.5));
        for (int y = 0; y < height; y++)
        {
            (double sinY, double cosY) = Math.SinCos(ky * (y + 0.5) + phase);
            for (int x = 0; x < width; x++)
            {
                float change = (float)(amplitude * (sinX[x] * cosY + cosX[x] * sinY));
                int o = 3 * (y * width + x);
                pixels[o] = Math.Clamp(pixels[o] + change, 0, 1);
                pixels[o + 1] = Math.Clamp(pixels[o + 1] + change, 0, 1);
                pixels[o + 2] = Math.Clamp(pixels[o + 2] + change, 0, 1);
            }
        }
    }

    /// <summary>Paints <paramref name="outline"/> in one flat colour: a distractor, shaped like an object but untextured.</summary>
    public static void Solid(float[] pixels, int width, int height, ObjectGeometry outline, (float R, float G, float B) colour)
    {
        (int firstX, int lastX, int firstY, int lastY) = outline.PixelBounds(width, height);
        for (int y = firstY; y <= lastY; y++)
            for (int x = firstX; x <= lastX; x++)
                if (outline.Contains(x + 0.5, y + 0.5))
                {
                    int o = 3 * (y * width + x);
                    (pixels[o], pixels[o + 1], pixels[o + 2]) = colour;
                }
    }

    /// <summary>Two to five thin straight lines (half-width ½ pixel) of random colours.</summary>
    public static void Lines(float[] pixels, int width, int height, ref SplitMix64 random)
    {
        int lines = 2 + random.NextInt(4);
        for (int l = 0; l < lines; l++)
        {
            double x0 = random.NextDouble(0, width), y0 = random.NextDouble(0, height);
            double x1 = random.NextDouble(0, width), y1 = random.NextDouble(0, height);
            (float R, float G, float B) colour = Colour.FromHsv(random.NextDouble(), random.NextDouble(0, 1), random.NextDouble(0.2, 1));
            // Only pixels whose centre lies within ½ of the segment's bounding box can be within ½ of the segment.
            int firstX = Math.Max(0, (int)Math.Floor(Math.Min(x0, x1) - 1)), lastX = Math.Min(width - 1, (int)Math.Ceiling(Math.Max(x0, x1)));
            int firstY = Math.Max(0, (int)Math.Floor(Math.Min(y0, y1) - 1)), lastY = Math.Min(height - 1, (int)Math.Ceiling(Math.Max(y0, y1)));
            for (int y = firstY; y <= lastY; y++)
                for (int x = firstX; x <= lastX; x++)
                    if (DistanceToSegment(x + 0.5, y + 0.5, x0, y0, x1, y1) <= 0.5)
                    {
                        int o = 3 * (y * width + x);
                        (pixels[o], pixels[o + 1], pixels[o + 2]) = colour;
                    }
        }
    }

    /// <summary>Adds independent uniform noise in ±<paramref name="amplitude"/> to every channel, clamped to [0, 1].</summary>
    public static void Noise(float[] pixels, ref SplitMix64 random, double amplitude = NoiseAmplitude)
    {
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = Math.Clamp(pixels[i] + (float)random.NextDouble(-amplitude, amplitude), 0, 1);
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
