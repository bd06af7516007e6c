namespace Crate.Trainers.Data;

/// <summary>Colour conversions for the dataset's painter.</summary>
internal static class Colour
{
    /// <summary>HSV (each in [0, 1]) to RGB in [0, 1].</summary>
    public static (float R, float G, float B) FromHsv(double hue, double saturation, double value)
    {
        double h = hue % 1 * 6, c = value * saturation, x = c * (1 - Math.Abs(h % 2 - 1)), m = value - c;
        (double r, double g, double b) = (int)h switch
        {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        return ((float)(r + m), (float)(g + m), (float)(b + m));
    }
}
