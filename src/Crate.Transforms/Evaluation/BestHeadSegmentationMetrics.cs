using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// Class-agnostic head masks scored per image against each truth class by the best-matching head: the paper's eq. 13–14
/// (<see cref="SegmentationEvaluationCatalog.EvaluateBestHeadSegmentation"/>) and DINO's Jaccard
/// (<see cref="SegmentationEvaluationCatalog.EvaluateForegroundJaccard"/>). For one image, one layer ℓ and one scored
/// class m with truth pixels S_m, score_m = max_k |S_m ∩ A_k| / |S_m ∪ A_k| over the heads' masks A_k (eq. 13); the
/// image's score is the mean of score_m over its scored classes (eq. 14); the reported score is the mean over images.
/// </summary>
public sealed record BestHeadSegmentationMetrics
{
    /// <summary>Per layer, in the column's order: eq. 14 averaged over the images.</summary>
    public required IReadOnlyList<double> LayerMeanIntersectionOverUnion { get; init; }

    /// <summary>The score of the column's last layer (its only one for CrateSegment's HeadMasks).</summary>
    public double MeanIntersectionOverUnion => LayerMeanIntersectionOverUnion[^1];

    /// <summary>[layer][class]: eq. 13 averaged over the images where the class is scored; NaN for a class never scored.</summary>
    public required IReadOnlyList<IReadOnlyList<double>> PerClassIntersectionOverUnion { get; init; }

    /// <summary>[layer][head]: over all (image, class) pairs scored, how often each head was the best match (ties go to the
    /// lower head index).</summary>
    public required IReadOnlyList<IReadOnlyList<long>> BestHeadCounts { get; init; }

    /// <summary>Images averaged.</summary>
    public required long ImageCount { get; init; }

    /// <summary>Images with no class to score, skipped because <see cref="SegmentationEvaluationOptions.SkipImagesWithoutClasses"/> asked.</summary>
    public required long SkippedImageCount { get; init; }

    /// <summary>
    /// The shared computation. <paramref name="foregroundOnly"/>: DINO's protocol (classes other than 0 are scored and
    /// void pixels count as ordinary non-class pixels) instead of eq. 13's (every present class, background included,
    /// void pixels removed from both masks).
    /// </summary>
    internal static BestHeadSegmentationMetrics Evaluate(object catalog, IDataView data, int classCount, string labelColumnName, string headMasksColumnName,
        SegmentationEvaluationOptions options, bool foregroundOnly, string metricName)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Segmentation needs at least 2 classes (background and one more).");
        if (options.IgnoreLabel >= 0 && options.IgnoreLabel < classCount)
            throw new ArgumentOutOfRangeException(nameof(options), options.IgnoreLabel, $"The ignore label {options.IgnoreLabel} is one of the {classCount} class ids.");
        if (!(options.Fraction > 0 && options.Fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(options), options.Fraction, "Fraction must be in (0, 1].");
        MaskRule rule = options.Rule ?? (foregroundOnly ? MaskRule.CumulativeMass : MaskRule.TopFraction);
        LabelMapColumn truth = LabelMapColumn.Find(data.Schema, labelColumnName, "label");
        LabelMapColumn heads = LabelMapColumn.Find(data.Schema, headMasksColumnName, "head masks", allowFloat: true);
        int[] dimensions = [.. ((VectorDataViewType)heads.Column.Type).Dimensions];
        if (dimensions.Length is < 3 or > 4 || heads.Shape is null || dimensions.Any(d => d <= 0))
            throw new ArgumentException(
                $"The head masks column '{headMasksColumnName}' has type {heads.Column.Type}; expected a known shape [heads, h, w] (CrateSegment's HeadMasks) " +
                "or [layers, heads, h, w] (CrateAttention's maps).", nameof(headMasksColumnName));
        int layers = dimensions.Length == 4 ? dimensions[0] : 1, headCount = dimensions[^3];
        (int gridHeight, int gridWidth) = heads.Shape.Value;
        int cells = gridHeight * gridWidth;

        var sums = new double[layers];
        var classSums = new double[layers, classCount];
        var classImages = new long[classCount];
        var best = new long[layers, headCount];
        long images = 0, skipped = 0;
        using DataViewRowCursor cursor = data.GetRowCursor(TruthShape.Columns(data.Schema, options).Append(truth.Column).Append(heads.Column).Distinct());
        Func<int[]> readTruth = truth.CreateReader(cursor);
        Func<bool[]> readMasks;
        if (heads.IsFloat)
            readMasks = Threshold(heads.CreateFloatReader(cursor), rule, options.Fraction, cells);
        else
        {
            Func<int[]> read = heads.CreateReader(cursor);
            readMasks = () => Array.ConvertAll(read(), v => v != 0);
        }
        TruthShape shape = TruthShape.Create(cursor, truth, options);
        while (cursor.MoveNext())
        {
            int[] t = readTruth();
            bool[] masks = readMasks();
            int[]? cellOf = shape.PixelToPrediction(t.Length, cells, heads.Shape, headMasksColumnName);
            int cellCount = cellOf is null ? t.Length : cells;
            // Per cell: pixels of each class, and pixels that count towards |A_k| (all of them for DINO, non-void for eq. 13).
            var classPixels = new Dictionary<int, long[]>();
            var weight = new long[cellCount];
            for (int i = 0; i < t.Length; i++)
            {
                int label = t[i], cell = cellOf is null ? i : cellOf[i];
                if (label == options.IgnoreLabel)
                {
                    if (foregroundOnly) weight[cell]++;
                    continue;
                }
                if ((uint)label >= (uint)classCount)
                    throw new InvalidDataException($"{shape.Describe()}: the truth '{labelColumnName}' has class id {label} at entry {i}; ids must be 0–{classCount - 1} or {options.IgnoreLabel} (ignored).");
                weight[cell]++;
                if (foregroundOnly && label == 0) continue;
                if (!classPixels.TryGetValue(label, out long[]? counts)) classPixels[label] = counts = new long[cellCount];
                counts[cell]++;
            }
            if (classPixels.Count == 0)
            {
                string problem = $"{shape.Describe()}: the truth '{labelColumnName}' has no {(foregroundOnly ? "foreground class (only background and void)" : "labelled pixel (only void)")}, so {metricName} is undefined for it.";
                if (!options.SkipImagesWithoutClasses)
                    throw new InvalidDataException(problem + " Set SkipImagesWithoutClasses to skip such images.");
                skipped++;
                using IChannel channel = MLNetInternals.EnvironmentOf(catalog).Start(metricName);
                channel.Warning(MessageSensitivity.None, $"{problem} Skipped ({skipped} so far), as the options ask.");
                continue;
            }
            for (int layer = 0; layer < layers; layer++)
            {
                double imageSum = 0;
                foreach ((int label, long[] counts) in classPixels.OrderBy(p => p.Key))
                {
                    long truthArea = counts.Sum();
                    double bestIou = -1;
                    int bestHead = 0;
                    for (int k = 0; k < headCount; k++)
                    {
                        int offset = (layer * headCount + k) * cells;
                        long intersection = 0, area = 0;
                        for (int c = 0; c < cellCount; c++)
                        {
                            if (!masks[offset + c]) continue;
                            intersection += counts[c];
                            area += weight[c];
                        }
                        // |S_m| > 0, so the union is never empty.
                        double iou = (double)intersection / (truthArea + area - intersection);
                        if (iou > bestIou)
                        {
                            bestIou = iou;
                            bestHead = k;
                        }
                    }
                    imageSum += bestIou;
                    classSums[layer, label] += bestIou;
                    best[layer, bestHead]++;
                }
                sums[layer] += imageSum / classPixels.Count;
            }
            foreach (int label in classPixels.Keys) classImages[label]++;
            images++;
        }
        if (images == 0)
            throw new ArgumentException(skipped > 0 ? $"All {skipped} images were skipped: there is nothing to evaluate." : "The data has no rows: there is nothing to evaluate.", nameof(data));
        return new BestHeadSegmentationMetrics
        {
            LayerMeanIntersectionOverUnion = sums.Select(s => s / images).ToArray(),
            PerClassIntersectionOverUnion = Enumerable.Range(0, layers).Select(l => (IReadOnlyList<double>)Enumerable.Range(0, classCount)
                .Select(c => classImages[c] == 0 ? double.NaN : classSums[l, c] / classImages[c]).ToArray()).ToArray(),
            BestHeadCounts = Enumerable.Range(0, layers).Select(l => (IReadOnlyList<long>)Enumerable.Range(0, headCount).Select(k => best[l, k]).ToArray()).ToArray(),
            ImageCount = images,
            SkippedImageCount = skipped,
        };
    }

    /// <summary>Float maps [layers·heads, cells] → masks by <see cref="AttentionMaskRules"/>, each map on its own.</summary>
    private static Func<bool[]> Threshold(Func<float[]> read, MaskRule rule, double fraction, int cells) => () =>
    {
        float[] maps = read();
        var masks = new bool[maps.Length];
        for (int offset = 0; offset < maps.Length; offset += cells)
            AttentionMaskRules.Apply(rule, maps.AsSpan(offset, cells), fraction).CopyTo(masks, offset);
        return masks;
    };
}
