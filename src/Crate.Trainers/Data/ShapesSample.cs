namespace Crate.Trainers.Data;

/// <summary>One image of the embedded dataset with its exact object mask.</summary>
/// <param name="Index">Its index i; the image depends only on (seed, i).</param>
/// <param name="ClassIndex">Its class, 0-based.</param>
/// <param name="Label">Its class name, "shape-texture" (e.g. "disc-stripes").</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgb">Pixels, row-major, 3 bytes each (R, G, B).</param>
/// <param name="Mask">True exactly on the object's pixels, row-major.</param>
public sealed record ShapesSample(int Index, int ClassIndex, string Label, int Width, int Height, byte[] Rgb, bool[] Mask)
{
    /// <summary>The tightest box around the object: (x, y, width, height) in pixels.</summary>
    public (int X, int Y, int Width, int Height) Box
    {
        get
        {
            int left = Width, top = Height, right = -1, bottom = -1;
            for (int y = 0; y < Height; y++)
                for (int x = 0; x < Width; x++)
                    if (Mask[y * Width + x])
                    {
                        left = Math.Min(left, x);
                        right = Math.Max(right, x);
                        top = Math.Min(top, y);
                        bottom = Math.Max(bottom, y);
                    }
            return right < 0 ? (0, 0, 0, 0) : (left, top, right - left + 1, bottom - top + 1);
        }
    }
}
