using Crate.Trainers.Augmentation;

namespace Crate.Trainers.Data;

/// <summary>
/// Where an object is and how it looks: outline, texture, centre, radius, rotation, texture cell size and its two
/// colours. <see cref="Contains"/> is the exact membership test the masks are made of.
/// </summary>
internal sealed record ObjectGeometry(
    ShapeFamily Shape, ShapeTexture Texture, double CentreX, double CentreY, double Radius, double Angle, double Cell,
    (float R, float G, float B) Light, (float R, float G, float B) Dark)
{
    private static readonly double Sqrt3Over2 = Math.Sqrt(3) / 2;

    // The rotation's cosine and sine, computed once per object rather than once per pixel; kept in step with
    // Angle by its init accessor, so a `with { Angle = … }` copy turns too.
    private readonly double angle = Angle, cos = Math.Cos(Angle), sin = Math.Sin(Angle);

    /// <summary>Rotation in radians.</summary>
    public double Angle
    {
        get => angle;
        init => (angle, cos, sin) = (value, Math.Cos(value), Math.Sin(value));
    }

    /// <summary>Draws a random object of class <paramref name="classIndex"/> of the shapes dataset, wholly inside the image.</summary>
    public static ObjectGeometry Draw(ShapesDatasetOptions options, int classIndex, ref SplitMix64 random)
    {
        (ShapeFamily shape, ShapeTexture texture) = ObjectClasses.Of(classIndex, options.Shapes, options.Textures);
        double halfSide = Math.Min(options.ImageWidth, options.ImageHeight) / 2.0;
        double radius = halfSide * random.NextDouble(options.Scale.Low, options.Scale.High);
        // Texture cells of about 1/11 of the image side, and never under 3 pixels: two-pixel cells alias into
        // moiré once rotated, and stripes then look like checks.
        double cell = Math.Max(3.0, Math.Min(options.ImageWidth, options.ImageHeight) / 11.0);
        return Draw(shape, texture, radius, cell, options.ImageWidth, options.ImageHeight, ref random);
    }

    /// <summary>
    /// Draws the placement, rotation and colours of an object of the given outline, texture, radius and texture cell,
    /// wholly inside a <paramref name="width"/> × <paramref name="height"/> image.
    /// </summary>
    public static ObjectGeometry Draw(ShapeFamily shape, ShapeTexture texture, double radius, double cell, int width, int height, ref SplitMix64 random)
    {
        // Every outline lies within its circumscribed circle of this radius, so a centre a pixel further from the
        // edges keeps the whole object inside the image, off its border rows, whatever the rotation.
        double marginX = Math.Min(radius + 1, width / 2.0), marginY = Math.Min(radius + 1, height / 2.0);
        double centreX = random.NextDouble(marginX, width - marginX);
        double centreY = random.NextDouble(marginY, height - marginY);
        double turn = random.NextDouble(0, 2 * Math.PI);
        (float R, float G, float B) light = Colour.FromHsv(random.NextDouble(), random.NextDouble(0.65, 1.0), random.NextDouble(0.8, 1.0));
        (float R, float G, float B) dark = (light.R * 0.25f, light.G * 0.25f, light.B * 0.25f);
        return new ObjectGeometry(shape, texture, centreX, centreY, radius, turn, cell, light, dark);
    }

    /// <summary>
    /// The pixels that can hold part of the object, clipped to the image: the square around its circumscribed
    /// circle. Rows and columns run from the first value to the last, inclusive; empty when Last &lt; First.
    /// </summary>
    public (int FirstX, int LastX, int FirstY, int LastY) PixelBounds(int width, int height) =>
        (Math.Max(0, (int)Math.Floor(CentreX - Radius - 1)), Math.Min(width - 1, (int)Math.Ceiling(CentreX + Radius + 1)),
         Math.Max(0, (int)Math.Floor(CentreY - Radius - 1)), Math.Min(height - 1, (int)Math.Ceiling(CentreY + Radius + 1)));

    /// <summary>
    /// Paints the object's texture on every pixel whose centre passes <see cref="Contains"/> and marks those pixels
    /// <paramref name="id"/> in <paramref name="owners"/> (row-major, one per pixel): the exact mask, since the
    /// pixels painted are exactly the pixels marked. Returns how many pixels it painted.
    /// </summary>
    public int Paint(float[] pixels, byte[] owners, byte id, int width, int height)
    {
        (int firstX, int lastX, int firstY, int lastY) = PixelBounds(width, height);
        int painted = 0;
        for (int y = firstY; y <= lastY; y++)
            for (int x = firstX; x <= lastX; x++)
                if (Contains(x + 0.5, y + 0.5))
                {
                    int i = y * width + x;
                    (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = ColourAt(x + 0.5, y + 0.5);
                    owners[i] = id;
                    painted++;
                }
        return painted;
    }

    private static double Square(double x) => x * x;

    /// <summary>The point in the object's frame, in pixels: centred and turned back by the rotation.</summary>
    private (double A, double B) Local(double x, double y)
    {
        double dx = x - CentreX, dy = y - CentreY;
        return (cos * dx + sin * dy, -sin * dx + cos * dy);
    }

    /// <summary>True when the point (pixel coordinates) lies in the outline.</summary>
    public bool Contains(double x, double y)
    {
        (double a, double b) = Local(x, y);
        double u = a / Radius, v = b / Radius;
        return Shape switch
        {
            ShapeFamily.Disc => u * u + v * v <= 1,
            // The square inscribed in the unit circle.
            ShapeFamily.Square => Math.Max(Math.Abs(u), Math.Abs(v)) <= Math.Sqrt(0.5),
            // The equilateral triangle inscribed in the unit circle, apex at (0, −1): three half-planes at distance ½.
            ShapeFamily.Triangle => v <= 0.5 && -Sqrt3Over2 * u - 0.5 * v <= 0.5 && Sqrt3Over2 * u - 0.5 * v <= 0.5,
            _ => (Math.Abs(u) <= 0.28 && Math.Abs(v) <= 0.95) || (Math.Abs(v) <= 0.28 && Math.Abs(u) <= 0.95),
        };
    }

    /// <summary>The texture's colour at a point of the object.</summary>
    public (float R, float G, float B) ColourAt(double x, double y)
    {
        (double a, double b) = Local(x, y);
        long i = (long)Math.Floor(a / Cell), j = (long)Math.Floor(b / Cell);
        bool light = Texture switch
        {
            ShapeTexture.Stripes => (i & 1) == 0,
            ShapeTexture.Checker => ((i + j) & 1) == 0,
            _ => Square(a - (i + 0.5) * Cell) + Square(b - (j + 0.5) * Cell) > Square(0.35 * Cell),
        };
        return light ? Light : Dark;
    }
}
