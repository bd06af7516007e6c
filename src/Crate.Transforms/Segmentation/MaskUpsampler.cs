namespace Crate.Transforms.Segmentation;

/// <summary>Grid masks to image masks by nearest neighbour, earlier masks subtracted from later ones so no pixel
/// belongs to two masks (spec, "MaskCut": CutLER subtracts the masks of earlier stages).</summary>
public static class MaskUpsampler
{
    /// <summary>
    /// Maps each pixel centre to the patch under it (<see cref="GridUpsampling"/>). A pixel goes to the first mask that
    /// holds its patch. Masks left empty by the subtraction have no box and are omitted; <see cref="UpsampledMask.Source"/>
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

        int[] pixelOwner = GridUpsampling.Nearest<int>(owner, gridHeight, gridWidth, imageHeight, imageWidth);
        var results = new List<UpsampledMask>();
        for (int k = 0; k < gridMasks.Count; k++)
        {
            var pixels = new bool[pixelOwner.Length];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = pixelOwner[i] == k;
            BinaryMask mask = BinaryMask.Wrap(imageHeight, imageWidth, pixels);
            if (mask.BoundingBox() is MaskBox box) results.Add(new UpsampledMask(k, mask, box));
        }
        return results;
    }
}
