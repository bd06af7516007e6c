namespace Crate.Transforms.Segmentation;

/// <summary>
/// The one grid-to-pixel upsampling of Crate.MLNet's read-outs (masks, attention maps, MaskCut objects): nearest
/// neighbour by pixel centre. Pixel row y reads grid row ⌊(y + ½)·h/H⌋, and likewise for columns, so that when
/// H = h·P every patch fills exactly its P×P block (this is then also PyTorch's "nearest"), and for other sizes each
/// pixel takes the patch its centre falls in (PyTorch's "nearest-exact", as CutLER resizes its masks).
/// </summary>
public static class GridUpsampling
{
    /// <summary>For each of <paramref name="pixels"/> positions, the index of the grid cell under its centre.</summary>
    public static int[] NearestCells(int pixels, int cells)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cells);
        var result = new int[pixels];
        for (int p = 0; p < pixels; p++)
            result[p] = Math.Min(cells - 1, (int)Math.Floor((p + 0.5) * cells / pixels));
        return result;
    }

    /// <summary>A row-major <paramref name="gridHeight"/>×<paramref name="gridWidth"/> grid of values brought to
    /// <paramref name="height"/>×<paramref name="width"/> pixels.</summary>
    public static T[] Nearest<T>(ReadOnlySpan<T> grid, int gridHeight, int gridWidth, int height, int width)
    {
        if (grid.Length != gridHeight * gridWidth)
            throw new ArgumentException($"Expected {gridHeight}·{gridWidth} = {gridHeight * gridWidth} cells, got {grid.Length}.", nameof(grid));
        int[] rows = NearestCells(height, gridHeight), columns = NearestCells(width, gridWidth);
        var pixels = new T[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                pixels[y * width + x] = grid[rows[y] * gridWidth + columns[x]];
        return pixels;
    }
}
