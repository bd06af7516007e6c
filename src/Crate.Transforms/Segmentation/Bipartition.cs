namespace Crate.Transforms.Segmentation;

/// <summary>
/// Splits the grid by the Fiedler vector v (spec, "MaskCut"): the partition is v &gt; mean(v), the seed argmax|v|;
/// the partition (and v) is flipped when at least 3 of the 4 corner patches fall in it, or else when the seed is not
/// in it, and the seed is then argmax v.
/// </summary>
/// <remarks>
/// An eigenvector's sign is arbitrary (CutLER inherits LAPACK's), and the two rules can disagree: when the seed lies
/// on the side with ≥ 3 corners, the result would depend on that sign. We first orient v so its largest-magnitude
/// entry is positive; the seed then always lies in v &gt; mean(v) (max v &gt; mean unless v is constant), the seed rule
/// never fires, and the corner rule decides. Both signs of v give the same split, the background-like side (≥ 3
/// corners) never becomes the object, and when neither side holds 3 corners the seed's side is kept.
/// </remarks>
internal static class Bipartition
{
    /// <summary>The object side of the split, row-major over the <paramref name="height"/>×<paramref name="width"/>
    /// grid, and the seed patch, which lies in it.</summary>
    public static (bool[] Side, int Seed) Split(double[] fiedler, int height, int width)
    {
        if (fiedler.Length != height * width)
            throw new ArgumentException($"Expected {height * width} entries, got {fiedler.Length}.", nameof(fiedler));
        int largest = ArgMax(fiedler, Math.Abs);
        double sign = fiedler[largest] < 0 ? -1 : 1;
        double mean = fiedler.Average() * sign;
        bool[] side = fiedler.Select(x => x * sign > mean).ToArray();

        int[] corners = [0, width - 1, (height - 1) * width, height * width - 1];
        if (corners.Count(c => side[c]) < 3) return (side, largest);
        for (int i = 0; i < side.Length; i++) side[i] = !side[i];
        return (side, ArgMax(fiedler, x => -x * sign));
    }

    /// <summary>The first index maximising <paramref name="key"/> (numpy's tie rule).</summary>
    private static int ArgMax(double[] values, Func<double, double> key)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (key(values[i]) > key(values[best])) best = i;
        return best;
    }
}
