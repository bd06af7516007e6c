namespace Crate.Transforms.Visualization;

/// <summary>
/// A 5×7 pixel font of the few characters the pictures' labels use ("HEAD 3", "LAYER 2", "HIGH", "LOW"), so labels are
/// drawn without a font file: SkiaSharp's Linux build that ML.NET ships has no font configuration to find one with.
/// </summary>
internal static class PixelFont
{
    /// <summary>A glyph's width and height in font pixels; characters advance by <see cref="Width"/> + 1.</summary>
    public const int Width = 5, Height = 7;

    private static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['A'] = [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        ['D'] = ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."],
        ['E'] = ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
        ['G'] = [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".###."],
        ['H'] = ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        ['I'] = [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
        ['L'] = ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
        ['O'] = [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
        ['R'] = ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
        ['W'] = ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "##.##", "#...#"],
        ['Y'] = ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."],
        ['0'] = [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
        ['1'] = ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
        ['2'] = [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
        ['3'] = ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
        ['4'] = ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
        ['5'] = ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
        ['6'] = [".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."],
        ['7'] = ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
        ['8'] = [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
        ['9'] = [".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."],
        [' '] = [".....", ".....", ".....", ".....", ".....", ".....", "....."],
    };

    /// <summary>The width in picture pixels of <paramref name="text"/> drawn at <paramref name="size"/> picture pixels per font pixel.</summary>
    public static int Measure(string text, int size) => text.Length == 0 ? 0 : (text.Length * (Width + 1) - 1) * size;

    /// <summary>Draws <paramref name="text"/> (upper case; the characters above) with its top-left corner at
    /// (<paramref name="left"/>, <paramref name="top"/>), each font pixel a <paramref name="size"/> × <paramref name="size"/> block.</summary>
    public static void Draw(Canvas canvas, string text, int left, int top, int size, (float R, float G, float B) colour)
    {
        for (int c = 0; c < text.Length; c++)
        {
            if (!Glyphs.TryGetValue(text[c], out string[]? glyph))
                throw new ArgumentException($"The pictures' font has no '{text[c]}'.", nameof(text));
            int x0 = left + c * (Width + 1) * size;
            for (int gy = 0; gy < Height; gy++)
                for (int gx = 0; gx < Width; gx++)
                    if (glyph[gy][gx] == '#')
                        canvas.FillRectangle(x0 + gx * size, top + gy * size, size, size, colour);
        }
    }
}
