namespace Crate.Transforms.Segmentation;

/// <summary>Grid masks to image masks by nearest neighbour, earlier masks subtracted from later ones so no pixel
/// belongs to two masks (spec, "MaskCut": CutLER subtracts the masks of earlier stages).</summary>
public static class MaskUpsampler
{
    /// <summary>
    /// Maps each pixel centre to the patch under it: pixel row y reads grid row ⌊(y + ½)·h/H⌋ (so when H = h·P every
    /// patch covers exactly a P×P block), and likewise for columns. A pixel goes to the first mask that holds its
    /// patch. Masks left empty by the subtraction have no box and are omitted; <see cref="UpsampledMask.Source"/>
    /// names the grid mask each result came from.
    /// </summary>
    /// <param name="gridMasks">Masks over one h×w grid, in priority order.</param>
    /// <param name="imageHeight">H in pixels.</param>
    /// <param name="imageWidth">W in pixels.</param>
    public static IReadOnlyList<UpsampledMask> Upsample(IReadOnlyList<BinaryMask> gridMasks, int imageHeight, int imageWidth)
    {
        ArgumentNullException.ThrowIfNull(gridMasks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageWidth);
        if (gridMasks.Count == 0) return [];
        int gridHeight = gridMasks[0].Height, gridWidth = gridMasks[0].Width;
        if (gridMasks.Any(m => m.Height != gridHeight || m.Width != gridWidth))
            throw new ArgumentException("All grid masks must have the same shape.", nameof(gridMasks));

        // Subtracting at grid level is the same as at image level: nearest-neighbour sampling commutes with set operations.
        var owner = new int[gridHeight * gridWidth];
        Array.Fill(owner, -1);
        for (int k = gridMasks.Count - 1; k >= 0; k--)
            for (int cell = 0; cell < owner.Length; cell++)
                if (gridMasks[k].Cells[cell]) owner[cell] = k;

        int[] rows = NearestCells(imageHeight, gridHeight), columns = NearestCells(imageWidth, gridWidth);
        var results = new List<UpsampledMask>();
        for (int k = 0; k < gridMasks.Count; k++)
        {
            var pixels = new bool[imageHeight * imageWidth];
            for (int y = 0; y < imageHeight; y++)
                for (int x = 0; x < imageWidth; x++)
                    pixels[y * imageWidth + x] = owner[rows[y] * gridWidth + columns[x]] == k;
            BinaryMask mask = BinaryMask.Wrap(imageHeight, imageWidth, pixels);
            if (mask.BoundingBox() is MaskBox box) results.Add(new UpsampledMask(k, mask, box));
        }
        return results;
    }

    /// <summary>For each of <paramref name="pixels"/> positions, the grid cell under its centre (also the rule by which
    /// evaluation brings predictions on the patch grid to the truth's pixels).</summary>
    internal static int[] NearestCells(int pixels, int cells) =>
        Enumerable.Range(0, pixels).Select(p => Math.Min(cells - 1, (int)Math.Floor((p + 0.5) * cells / pixels))).ToArray();
}
