using Crate.Transforms.Segmentation;

namespace Crate.Emergence;

/// <summary>The masks that ignore what the image shows, scored beside the networks.</summary>
public enum PositionControl
{
    /// <summary>Each head's map i.i.d. uniform noise, thresholded by the rule.</summary>
    RandomMask,

    /// <summary>One map for every image: a Gaussian bump at the grid's centre (σ = a quarter of the grid's shorter side), thresholded by the rule.</summary>
    CentralMask,

    /// <summary>
    /// One map per fold: the mean share of object pixels in each cell over the <em>other</em> half of the images (image i
    /// is in fold i mod 2), thresholded by the rule; the best a position-only attention can learn from disjoint scenes.
    /// </summary>
    FittedMask,

    /// <summary>The best mask the rule allows for each image and class, from the image's own truth: the ceiling.</summary>
    Oracle,
}

/// <summary>
/// The controls' masks on an h×w patch grid, under the same thresholding rule as the networks' maps. Under
/// <see cref="MaskRule.TopFraction"/> every mask has exactly ⌈P·h·w⌉ cells, so the oracle for a target (one class, or
/// all objects) is the ⌈P·h·w⌉ cells holding most of it; under <see cref="MaskRule.CumulativeMass"/> any non-empty set of
/// cells can be the mask of some map, so the oracle is the best of the prefixes of the cells sorted by their share of
/// the target (IoU = I / (|S| + |A| − I) rises with a cell exactly when the cell's share exceeds the current IoU, so the
/// optimum is such a prefix). Both are exact when every cell covers as many pixels and none is void (the embedded
/// scenes); on other images they are the best masks by the cells' shares.
/// </summary>
public static class PositionControls
{
    /// <summary>Every control's masks for the images of <paramref name="truth"/>, in row order.</summary>
    /// <param name="control">Which control.</param>
    /// <param name="rule">The thresholding rule.</param>
    /// <param name="fraction">P.</param>
    /// <param name="truth">The images' truth.</param>
    /// <param name="classCount">Classes of the class maps, background included.</param>
    /// <param name="heads">Heads of the random control (a network's head count: eq. 13 takes the best of them).</param>
    /// <param name="gridHeight">Grid rows.</param>
    /// <param name="gridWidth">Grid columns.</param>
    /// <returns>The masks and their head count.</returns>
    public static (IReadOnlyList<GridMasks> Masks, int Heads) Masks(PositionControl control, MaskRule rule, double fraction, IReadOnlyList<ImageTruth> truth,
        int classCount, int heads, int gridHeight, int gridWidth)
    {
        ArgumentNullException.ThrowIfNull(truth);
        int cells = gridHeight * gridWidth;
        switch (control)
        {
            case PositionControl.RandomMask:
                return (truth.Select((_, i) =>
                {
                    var random = new Random(7919 * i + 1);
                    bool[] all = Enumerable.Range(0, heads).SelectMany(_ => Threshold(rule, fraction, Enumerable.Range(0, cells).Select(_ => random.NextSingle()).ToArray())).ToArray();
                    return new GridMasks(all, all[..cells]);
                }).ToArray(), heads);
            case PositionControl.CentralMask:
                bool[] central = Threshold(rule, fraction, CentralMap(gridHeight, gridWidth));
                return (truth.Select(_ => new GridMasks(central, central)).ToArray(), 1);
            case PositionControl.FittedMask:
                if (truth.Count < 2) throw new ArgumentException("The fitted control needs at least two images (one per fold).", nameof(truth));
                float[][] shares = truth.Select(t => CellShares(t, t.Foreground, v => v == 1, gridHeight, gridWidth)).ToArray();
                bool[][] fitted = [.. Enumerable.Range(0, 2).Select(fold => Threshold(rule, fraction, MeanMap(shares.Where((_, i) => i % 2 != fold).ToArray(), cells)))];
                return (truth.Select((_, i) => new GridMasks(fitted[i % 2], fitted[i % 2])).ToArray(), 1);
            case PositionControl.Oracle:
                return (truth.Select(t =>
                {
                    bool[] perClass = Enumerable.Range(0, classCount)
                        .SelectMany(c => BestMask(rule, fraction, t, t.ClassMap, v => v == c, gridHeight, gridWidth)).ToArray();
                    return new GridMasks(perClass, BestMask(rule, fraction, t, t.Foreground, v => v == 1, gridHeight, gridWidth));
                }).ToArray(), classCount);
            default:
                throw new ArgumentOutOfRangeException(nameof(control), control, null);
        }
    }

    /// <summary>The central control's map: exp(−r² / 2σ²) from the grid's centre, σ = min(h, w) / 4 cells.</summary>
    public static float[] CentralMap(int gridHeight, int gridWidth)
    {
        double sigma = Math.Min(gridHeight, gridWidth) / 4.0, cy = (gridHeight - 1) / 2.0, cx = (gridWidth - 1) / 2.0;
        var map = new float[gridHeight * gridWidth];
        for (int y = 0; y < gridHeight; y++)
            for (int x = 0; x < gridWidth; x++)
                map[y * gridWidth + x] = (float)Math.Exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * sigma * sigma));
        return map;
    }

    /// <summary>
    /// Per cell of the grid, the share of its non-void pixels whose value in <paramref name="labels"/> is a target
    /// (cells take the pixels whose centres fall in them, as the evaluators map pixels to cells).
    /// </summary>
    public static float[] CellShares(ImageTruth truth, byte[] labels, Func<byte, bool> isTarget, int gridHeight, int gridWidth)
    {
        (long[] target, long[] area) = CellCounts(truth, labels, isTarget, gridHeight, gridWidth);
        return target.Select((t, c) => area[c] == 0 ? 0f : (float)t / area[c]).ToArray();
    }

    /// <summary>The best mask the rule allows for the target pixels of one image (see the class' summary).</summary>
    public static bool[] BestMask(MaskRule rule, double fraction, ImageTruth truth, byte[] labels, Func<byte, bool> isTarget, int gridHeight, int gridWidth)
    {
        ArgumentNullException.ThrowIfNull(truth);
        (long[] target, long[] area) = CellCounts(truth, labels, isTarget, gridHeight, gridWidth);
        float[] shares = target.Select((t, c) => area[c] == 0 ? 0f : (float)t / area[c]).ToArray();
        if (rule == MaskRule.TopFraction) return AttentionMaskRules.TopFraction(shares, fraction);
        int[] order = Enumerable.Range(0, shares.Length).OrderByDescending(c => shares[c]).ThenBy(c => c).ToArray();
        long total = target.Sum(), intersection = 0, maskArea = 0;
        double bestIou = -1;
        int bestLength = 1;
        for (int j = 0; j < order.Length; j++)
        {
            intersection += target[order[j]];
            maskArea += area[order[j]];
            long union = total + maskArea - intersection;
            double iou = union == 0 ? 0 : (double)intersection / union;
            if (iou > bestIou)
            {
                bestIou = iou;
                bestLength = j + 1;
            }
        }
        var mask = new bool[shares.Length];
        foreach (int c in order.Take(bestLength)) mask[c] = true;
        return mask;
    }

    private static (long[] Target, long[] Area) CellCounts(ImageTruth truth, byte[] labels, Func<byte, bool> isTarget, int gridHeight, int gridWidth)
    {
        int[] rows = GridUpsampling.NearestCells(truth.Height, gridHeight), columns = GridUpsampling.NearestCells(truth.Width, gridWidth);
        var target = new long[gridHeight * gridWidth];
        var area = new long[gridHeight * gridWidth];
        for (int y = 0; y < truth.Height; y++)
            for (int x = 0; x < truth.Width; x++)
            {
                int p = y * truth.Width + x, cell = rows[y] * gridWidth + columns[x];
                if (truth.ClassMap[p] == EvaluationData.IgnoreLabel) continue;
                area[cell]++;
                if (isTarget(labels[p])) target[cell]++;
            }
        return (target, area);
    }

    private static float[] MeanMap(float[][] maps, int cells)
    {
        var mean = new float[cells];
        foreach (float[] map in maps)
            for (int c = 0; c < cells; c++) mean[c] += map[c] / maps.Length;
        return mean;
    }

    private static bool[] Threshold(MaskRule rule, double fraction, float[] map) => AttentionMaskRules.Apply(rule, map, fraction);

    /// <summary>The control's name in the report.</summary>
    public static string Name(PositionControl control) => control switch
    {
        PositionControl.RandomMask => "control: random mask",
        PositionControl.CentralMask => "control: central mask",
        PositionControl.FittedMask => "control: fitted position mask",
        PositionControl.Oracle => "control: oracle",
        _ => control.ToString(),
    };
}
