namespace Crate.Transforms.Evaluation;

/// <summary>
/// The few numpy conventions COCO's evaluation rests on, reproduced bit for bit: linspace's thresholds, a stable
/// descending sort by score, and mean's summation order.
/// </summary>
internal static class NumpyArithmetic
{
    /// <summary>np.linspace(start, stop, count): i·((stop − start)/(count − 1)) + start, and exactly stop last. So the
    /// recall points are i·0.01, of which 0.35 is 0.35000000000000003, not 35/100; the difference decides
    /// which detection a recall point reads.</summary>
    public static double[] Linspace(double start, double stop, int count)
    {
        double step = (stop - start) / (count - 1);
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = i * step + start;
        values[^1] = stop;
        return values;
    }

    /// <summary>np.mean of a 1-D float64 array: numpy's reduction hands the array to its pairwise sum in blocks of
    /// 8192 (its buffer size), adds the block sums in order to 0, then divides by the count.</summary>
    public static double Mean(ReadOnlySpan<double> values)
    {
        const int Block = 8192;
        double sum = 0;
        for (int start = 0; start < values.Length; start += Block)
            sum += PairwiseSum(values.Slice(start, Math.Min(Block, values.Length - start)));
        return sum / values.Length;
    }

    /// <summary>numpy's pairwise_sum: below 8 a plain loop; up to 128 eight interleaved partial sums combined as
    /// ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) and the remainder added; above, halves at a multiple of 8.</summary>
    private static double PairwiseSum(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double result = 0;
            foreach (double x in a) result += x;
            return result;
        }
        if (n <= 128)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i;
            for (i = 8; i < n - n % 8; i += 8)
            {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3];
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7];
            }
            double result = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++) result += a[i];
            return result;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSum(a[..half]) + PairwiseSum(a[half..]);
    }

    /// <summary>The order np.argsort(−scores, kind='mergesort') gives: highest score first, equal scores in their
    /// given order.</summary>
    public static int[] DescendingStableOrder(ReadOnlySpan<double> scores)
    {
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        double[] keys = scores.ToArray();
        // Any sort is stable once equal keys are told apart by position.
        Array.Sort(order, (a, b) => keys[a] > keys[b] ? -1 : keys[a] < keys[b] ? 1 : a.CompareTo(b));
        return order;
    }
}
