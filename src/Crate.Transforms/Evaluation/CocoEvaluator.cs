namespace Crate.Transforms.Evaluation;

/// <summary>
/// pycocotools' COCOeval (evaluate, accumulate, summarize) for boxes and masks, step for step and in the same
/// floating-point order, over objects and detections already grouped by category (or one pooled group) and image.
/// Groups are independent, so the per-image matching and the per-category accumulation run in parallel; the result
/// does not depend on the order in which they finish.
/// </summary>
internal static class CocoEvaluator
{
    /// <summary>A ground-truth object as evaluation sees it.</summary>
    internal sealed record GroundTruth(long Id, double Area, bool Crowd, CocoBox Box, RleMask? Mask);

    /// <summary>A detection as evaluation sees it (<see cref="Area"/> already chosen).</summary>
    internal sealed record Detection(double Score, double Area, CocoBox Box, RleMask? Mask);

    /// <summary>np.linspace(.5, 0.95, 10).</summary>
    internal static readonly double[] IouThresholds = NumpyArithmetic.Linspace(.5, .95, 10);

    /// <summary>np.linspace(.0, 1.00, 101).</summary>
    internal static readonly double[] RecallThresholds = NumpyArithmetic.Linspace(0, 1, 101);

    internal static readonly int[] MaxDetections = [1, 10, 100];

    /// <summary>all, small, medium, large: [0², 1e5²], [0², 32²], [32², 96²], [96², 1e5²], both ends inclusive.</summary>
    internal static readonly (double Low, double High)[] AreaRanges = [(0, 1e10), (0, 1024), (1024, 9216), (9216, 1e10)];

    /// <summary>np.spacing(1) = 2⁻⁵², added to the precision's denominator by pycocotools.</summary>
    private const double Spacing1 = 2.220446049250313e-16;

    private const byte FalsePositive = 0, TruePositive = 1, Ignored = 2;

    /// <summary>One (group, image) after matching at every area range: the detections' scores, highest first (at most
    /// 100), their outcome per area range and IoU threshold, and the count of objects not ignored per area range.</summary>
    private sealed record ImageEvaluation(double[] Scores, byte[][] Outcomes, int[] NotIgnored);

    /// <summary>
    /// Evaluates <paramref name="groups"/>[k][i] = the objects and detections of group k (a category, or all pooled)
    /// on image i (images in ascending id order; either list may be null for none). Returns the twelve statistics and
    /// the AP (all areas, 100 detections) of each group that has ground truth.
    /// </summary>
    public static (double[] Stats, double?[] GroupAP) Evaluate(
        (IReadOnlyList<GroundTruth>? Objects, IReadOnlyList<Detection>? Detections)[][] groups, CocoIouType iouType)
    {
        int groupCount = groups.Length, imageCount = groupCount == 0 ? 0 : groups[0].Length;
        int T = IouThresholds.Length, R = RecallThresholds.Length, K = groupCount, A = AreaRanges.Length, M = MaxDetections.Length;

        var evaluations = new ImageEvaluation?[groupCount][];
        for (int k = 0; k < groupCount; k++) evaluations[k] = new ImageEvaluation?[imageCount];
        Parallel.For(0, (long)groupCount * imageCount, index =>
        {
            int k = (int)(index / imageCount), i = (int)(index % imageCount);
            evaluations[k][i] = EvaluateImage(groups[k][i].Objects ?? [], groups[k][i].Detections ?? [], iouType);
        });

        var precision = new double[T * R * K * A * M];
        var recall = new double[T * K * A * M];
        Array.Fill(precision, -1);
        Array.Fill(recall, -1);
        Parallel.For(0, groupCount, k => Accumulate(k, evaluations[k], precision, recall));

        int all = 0, small = 1, medium = 2, large = 3;
        int hundred = Array.IndexOf(MaxDetections, 100);
        int? iou50 = ThresholdIndex(.5), iou75 = ThresholdIndex(.75);
        double[] stats =
        [
            AveragePrecision(null, all, hundred), AveragePrecision(iou50 ?? -1, all, hundred), AveragePrecision(iou75 ?? -1, all, hundred),
            AveragePrecision(null, small, hundred), AveragePrecision(null, medium, hundred), AveragePrecision(null, large, hundred),
            AverageRecall(all, Array.IndexOf(MaxDetections, 1)), AverageRecall(all, Array.IndexOf(MaxDetections, 10)),
            AverageRecall(all, hundred), AverageRecall(small, hundred), AverageRecall(medium, hundred), AverageRecall(large, hundred),
        ];
        var groupAP = new double?[K];
        for (int k = 0; k < K; k++)
        {
            var values = new List<double>();
            for (int t = 0; t < T; t++)
                for (int r = 0; r < R; r++)
                    if (Precision(t, r, k, all, hundred) is var p && p > -1) values.Add(p);
            groupAP[k] = values.Count == 0 ? null : NumpyArithmetic.Mean(values.ToArray());
        }
        return (stats, groupAP);

        double Precision(int t, int r, int k, int a, int m) => precision[(((t * R + r) * K + k) * A + a) * M + m];

        // summarize(): the mean over the entries > −1 in C order (threshold, recall point, category), or −1.
        // np.where(iouThr == iouThrs) finds no threshold when none equals it exactly; then the mean is over nothing.
        double AveragePrecision(int? threshold, int a, int m)
        {
            var values = new List<double>();
            for (int t = 0; t < T; t++)
            {
                if (threshold is int only && t != only) continue;
                for (int r = 0; r < R; r++)
                    for (int k = 0; k < K; k++)
                        if (Precision(t, r, k, a, m) is var p && p > -1) values.Add(p);
            }
            return values.Count == 0 ? -1 : NumpyArithmetic.Mean(values.ToArray());
        }

        double AverageRecall(int a, int m)
        {
            var values = new List<double>();
            for (int t = 0; t < T; t++)
                for (int k = 0; k < K; k++)
                    if (recall[((t * K + k) * A + a) * M + m] is var v && v > -1) values.Add(v);
            return values.Count == 0 ? -1 : NumpyArithmetic.Mean(values.ToArray());
        }
    }

    private static int? ThresholdIndex(double threshold)
    {
        int index = Array.IndexOf(IouThresholds, threshold);
        return index < 0 ? null : index;
    }

    /// <summary>
    /// COCOeval.computeIoU and evaluateImg for one image and group: detections sorted by score (stable) and cut at
    /// 100; then, per area range, objects outside it or crowds are ignored and sorted after the others (stable), and
    /// each detection in turn takes the best still-free object with IoU ≥ the threshold (crowds stay free), stopping
    /// at the first ignored object once it holds a regular one; a detection matched to an ignored object, or unmatched
    /// and outside the area range, is ignored.
    /// </summary>
    private static ImageEvaluation? EvaluateImage(IReadOnlyList<GroundTruth> objects, IReadOnlyList<Detection> detections, CocoIouType iouType)
    {
        if (objects.Count == 0 && detections.Count == 0) return null;
        int maxDetections = MaxDetections[^1];
        int[] order = NumpyArithmetic.DescendingStableOrder(detections.Select(d => d.Score).ToArray());
        Detection[] sorted = order.Take(maxDetections).Select(i => detections[i]).ToArray();
        int G = objects.Count, D = sorted.Length, T = IouThresholds.Length;
        double[] ious = Overlaps(sorted, objects, iouType);

        var outcomes = new byte[AreaRanges.Length][];
        var notIgnored = new int[AreaRanges.Length];
        var ignored = new bool[G];
        var gtOrder = new int[G];
        var taken = new bool[T * G];
        for (int a = 0; a < AreaRanges.Length; a++)
        {
            (double low, double high) = AreaRanges[a];
            int next = 0;
            for (int g = 0; g < G; g++)
                if (!(objects[g].Crowd || objects[g].Area < low || objects[g].Area > high)) gtOrder[next++] = g;
            notIgnored[a] = next;
            for (int g = 0; g < G; g++)
                if (objects[g].Crowd || objects[g].Area < low || objects[g].Area > high) gtOrder[next++] = g;
            for (int j = 0; j < G; j++) ignored[j] = j >= notIgnored[a];

            var outcome = new byte[T * D];
            Array.Clear(taken);
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                {
                    double best = Math.Min(IouThresholds[t], 1 - 1e-10);
                    int match = -1;
                    for (int j = 0; j < G; j++)
                    {
                        GroundTruth candidate = objects[gtOrder[j]];
                        if (taken[t * G + j] && !candidate.Crowd) continue;
                        if (match > -1 && !ignored[match] && ignored[j]) break;
                        double iou = ious[d * G + gtOrder[j]];
                        if (iou < best) continue;
                        best = iou;
                        match = j;
                    }
                    bool outsideArea = sorted[d].Area < low || sorted[d].Area > high;
                    if (match == -1)
                    {
                        outcome[t * D + d] = outsideArea ? Ignored : FalsePositive;
                        continue;
                    }
                    taken[t * G + match] = true;
                    // pycocotools stores the matched object's id and reads 0 as "unmatched" afterwards.
                    bool recordedAsMatch = objects[gtOrder[match]].Id != 0;
                    outcome[t * D + d] = ignored[match] ? Ignored
                        : recordedAsMatch ? TruePositive
                        : outsideArea ? Ignored : FalsePositive;
                }
            outcomes[a] = outcome;
        }
        return new ImageEvaluation(sorted.Select(d => d.Score).ToArray(), outcomes, notIgnored);
    }

    /// <summary>IoU of every detection with every object, [d·G + g]; masks only where their boxes meet, as maskApi.</summary>
    private static double[] Overlaps(Detection[] detections, IReadOnlyList<GroundTruth> objects, CocoIouType iouType)
    {
        int G = objects.Count;
        var ious = new double[detections.Length * G];
        if (iouType == CocoIouType.BoundingBox)
        {
            for (int d = 0; d < detections.Length; d++)
                for (int g = 0; g < G; g++)
                    ious[d * G + g] = CocoBox.IntersectionOverUnion(detections[d].Box, objects[g].Box, objects[g].Crowd);
            return ious;
        }
        CocoBox[] objectBoxes = objects.Select(o => o.Mask!.BoundingBox()).ToArray();
        for (int d = 0; d < detections.Length; d++)
        {
            RleMask mask = detections[d].Mask!;
            CocoBox box = mask.BoundingBox();
            for (int g = 0; g < G; g++)
                if (CocoBox.IntersectionOverUnion(box, objectBoxes[g], objects[g].Crowd) > 0)
                    ious[d * G + g] = RleMask.Overlap(mask, objects[g].Mask!, objects[g].Crowd);
        }
        return ious;
    }

    /// <summary>
    /// COCOeval.accumulate for group k: per maximum detection count, every image's best detections are ranked together
    /// by score (stable: ties in image order, then in score order within the image); per area range and threshold the
    /// cumulative true and false positives give recall tp/n and precision tp/(tp + fp + 2⁻⁵²), the precision is made
    /// non-increasing from the right, and each recall point reads it at the first detection whose recall reaches it
    /// (0 past the last).
    /// </summary>
    private static void Accumulate(int k, ImageEvaluation?[] images, double[] precision, double[] recall)
    {
        int T = IouThresholds.Length, R = RecallThresholds.Length, A = AreaRanges.Length, M = MaxDetections.Length;
        int K = precision.Length / (T * R * A * M);
        ImageEvaluation[] present = images.Where(e => e is not null).ToArray()!;
        if (present.Length == 0) return;
        for (int m = 0; m < M; m++)
        {
            int maxDetections = MaxDetections[m];
            var scores = new List<double>();
            var source = new List<(int Image, int Detection, int Count)>();
            for (int i = 0; i < present.Length; i++)
            {
                int count = Math.Min(present[i].Scores.Length, maxDetections);
                for (int d = 0; d < count; d++)
                {
                    scores.Add(present[i].Scores[d]);
                    source.Add((i, d, present[i].Scores.Length));
                }
            }
            int[] order = NumpyArithmetic.DescendingStableOrder(scores.ToArray());
            int nd = order.Length;
            var rc = new double[nd];
            var pr = new double[nd];
            for (int a = 0; a < A; a++)
            {
                int positives = present.Sum(e => e.NotIgnored[a]);
                if (positives == 0) continue;
                for (int t = 0; t < T; t++)
                {
                    long tp = 0, fp = 0;
                    for (int n = 0; n < nd; n++)
                    {
                        (int image, int detection, int detectionCount) = source[order[n]];
                        byte outcome = present[image].Outcomes[a][t * detectionCount + detection];
                        if (outcome == TruePositive) tp++;
                        else if (outcome == FalsePositive) fp++;
                        rc[n] = (double)tp / positives;
                        pr[n] = tp / ((double)fp + tp + Spacing1);
                    }
                    recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0;
                    for (int n = nd - 1; n > 0; n--)
                        if (pr[n] > pr[n - 1]) pr[n - 1] = pr[n];
                    int index = 0;
                    for (int r = 0; r < R; r++)
                    {
                        // np.searchsorted(rc, recThrs, side='left'): the first detection with rc ≥ the recall point.
                        while (index < nd && rc[index] < RecallThresholds[r]) index++;
                        precision[(((t * R + r) * K + k) * A + a) * M + m] = index < nd ? pr[index] : 0;
                    }
                }
            }
        }
    }
}
