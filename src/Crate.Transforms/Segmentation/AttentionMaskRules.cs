namespace Crate.Transforms.Segmentation;

/// <summary>How an attention map becomes a binary mask (Appendix B.3).</summary>
public enum MaskRule
{
    /// <summary>Keep the top P of the entries by value: exactly ⌈P·N⌉ of them (the paper's rule, P = 0.6).</summary>
    TopFraction,

    /// <summary>Keep the smallest set of largest entries that holds at least P of the map's mass (DINO's rule).</summary>
    CumulativeMass,
}

/// <summary>The thresholding rules of Appendix B.3 (the IoU of eq. 13 is <see cref="BinaryMask.IntersectionOverUnion(ReadOnlySpan{bool}, ReadOnlySpan{bool})"/>).</summary>
public static class AttentionMaskRules
{
    /// <summary>Applies <paramref name="rule"/> with fraction <paramref name="fraction"/> to <paramref name="map"/>.</summary>
    public static bool[] Apply(MaskRule rule, ReadOnlySpan<float> map, double fraction) => rule switch
    {
        MaskRule.TopFraction => TopFraction(map, fraction),
        _ => CumulativeMass(map, fraction),
    };

    /// <summary>
    /// Marks the ⌈P·N⌉ largest entries. Ties are broken towards the lower index, so exactly that many are kept.
    /// </summary>
    public static bool[] TopFraction(ReadOnlySpan<float> map, double fraction)
    {
        CheckFraction(fraction);
        int keep = (int)Math.Ceiling(fraction * map.Length - 1e-9);
        var mask = new bool[map.Length];
        foreach (int index in Descending(map).Take(keep)) mask[index] = true;
        return mask;
    }

    /// <summary>
    /// Marks the fewest largest entries whose sum reaches P of the total: with a₁ ≥ a₂ ≥ …, the first m where
    /// a₁ + … + a_m ≥ P·Σa. Negative entries are treated as zero mass.
    /// </summary>
    public static bool[] CumulativeMass(ReadOnlySpan<float> map, double fraction)
    {
        CheckFraction(fraction);
        double total = 0;
        foreach (float value in map) total += Math.Max(value, 0);
        var mask = new bool[map.Length];
        double target = fraction * total, held = 0;
        foreach (int index in Descending(map))
        {
            if (held >= target && held > 0) break;
            mask[index] = true;
            held += Math.Max(map[index], 0);
        }
        return mask;
    }

    private static int[] Descending(ReadOnlySpan<float> map)
    {
        float[] values = map.ToArray();
        int[] order = Enumerable.Range(0, values.Length).ToArray();
        // Stable: equal values keep index order.
        Array.Sort(order, (i, j) => values[j].CompareTo(values[i]) is var c && c != 0 ? c : i.CompareTo(j));
        return order;
    }

    private static void CheckFraction(double fraction)
    {
        if (!(fraction > 0 && fraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction must be in (0, 1].");
    }
}
