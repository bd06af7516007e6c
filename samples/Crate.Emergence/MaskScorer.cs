using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence;

/// <summary>One evaluation image's truth, as the evaluators read it (<see cref="EvaluationData"/>'s columns).</summary>
/// <param name="ClassMap">Per pixel the class id (0 background, <see cref="EvaluationData.IgnoreLabel"/> void).</param>
/// <param name="Foreground">Per pixel 1 on any object, 0 elsewhere, void kept.</param>
/// <param name="Height">Pixels down.</param>
/// <param name="Width">Pixels across.</param>
public sealed record ImageTruth(byte[] ClassMap, byte[] Foreground, int Height, int Width);

/// <summary>One image's masks on the patch grid: the heads' [heads·h·w] (eq. 13–14) and the merged one [h·w].</summary>
/// <param name="Heads">Each head's mask, head after head, row-major.</param>
/// <param name="Merged">The mask scored against all objects together.</param>
public sealed record GridMasks(bool[] Heads, bool[] Merged);

/// <summary>The three [CLS]-attention scores of one set of masks.</summary>
/// <param name="BestHeadMeanIoU">eq. 13–14.</param>
/// <param name="MergedMaskIoU">DINO's per-image Jaccard of the merged mask with all objects.</param>
/// <param name="VocMeanIoU">The VOC devkit's background/foreground mIoU of the merged mask.</param>
/// <param name="BestHeadCounts">How often each head was eq. 13's best.</param>
public sealed record AttentionScores(double BestHeadMeanIoU, double MergedMaskIoU, double VocMeanIoU, IReadOnlyList<long> BestHeadCounts);

/// <summary>
/// Scores grid masks against the evaluation images' truth through the library's evaluators (eq. 13–14, DINO's
/// Jaccard, the VOC devkit's mIoU), so that a network's masks, the controls' masks and a network's masks paired with
/// another image's truth (the permutation control) are all scored by the same code under the same options.
/// </summary>
public sealed class MaskScorer
{
    private readonly MLContext context;
    private readonly int classCount;

    /// <summary>A scorer of masks against <paramref name="truth"/> (classes of <c>ClassMap</c>: <paramref name="classCount"/>, background included).</summary>
    public MaskScorer(MLContext context, IReadOnlyList<ImageTruth> truth, int classCount)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(truth);
        if (truth.Count == 0) throw new ArgumentException("There are no evaluation images.", nameof(truth));
        this.context = context;
        Truth = truth;
        this.classCount = classCount;
    }

    /// <summary>The images' truth, in row order.</summary>
    public IReadOnlyList<ImageTruth> Truth { get; }

    /// <summary>Reads the truth columns of <paramref name="view"/> (no image is decoded: only these columns are asked for).</summary>
    public static IReadOnlyList<ImageTruth> ReadTruth(MLContext context, IDataView view)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Data.CreateEnumerable<TruthRow>(view, reuseRowObject: false)
            .Select(r => new ImageTruth(r.ClassMap, r.Foreground, r.Height, r.Width)).ToArray();
    }

    /// <summary>
    /// The permutation control's pairing: image i's masks against image (i + 1) mod n's truth, so no image meets its own
    /// (n ≥ 2).
    /// </summary>
    public static int[] Shifted(int count)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, "The permutation control needs at least two images.");
        return Enumerable.Range(0, count).Select(i => (i + 1) % count).ToArray();
    }

    /// <summary>
    /// Scores <paramref name="masks"/> (one per image, in row order, <paramref name="heads"/> heads on a
    /// <paramref name="gridHeight"/>×<paramref name="gridWidth"/> grid) against the truth of image
    /// <paramref name="truthOf"/>[i] (its own when null).
    /// </summary>
    public AttentionScores Score(IReadOnlyList<GridMasks> masks, int heads, int gridHeight, int gridWidth, IReadOnlyList<int>? truthOf = null)
    {
        ArgumentNullException.ThrowIfNull(masks);
        if (masks.Count != Truth.Count) throw new ArgumentException($"{masks.Count} sets of masks for {Truth.Count} images.", nameof(masks));
        int cells = gridHeight * gridWidth;
        var rows = new List<ScoredRow>(masks.Count);
        for (int i = 0; i < masks.Count; i++)
        {
            ImageTruth truth = Truth[truthOf?[i] ?? i];
            GridMasks m = masks[i];
            if (m.Heads.Length != heads * cells || m.Merged.Length != cells)
                throw new ArgumentException($"Image {i}'s masks have {m.Heads.Length} and {m.Merged.Length} entries, not {heads}×{cells} and {cells}.", nameof(masks));
            rows.Add(new ScoredRow { ClassMap = truth.ClassMap, Foreground = truth.Foreground, Height = truth.Height, Width = truth.Width, HeadMasks = m.Heads, Merged = m.Merged, Mask = m.Merged });
        }
        var schema = SchemaDefinition.Create(typeof(ScoredRow));
        schema[nameof(ScoredRow.HeadMasks)].ColumnType = new VectorDataViewType(BooleanDataViewType.Instance, heads, gridHeight, gridWidth);
        schema[nameof(ScoredRow.Merged)].ColumnType = new VectorDataViewType(BooleanDataViewType.Instance, 1, gridHeight, gridWidth);
        schema[nameof(ScoredRow.Mask)].ColumnType = new VectorDataViewType(BooleanDataViewType.Instance, gridHeight, gridWidth);
        IDataView data = context.Data.LoadFromEnumerable(rows, schema);
        var evaluation = new SegmentationEvaluationOptions { IgnoreLabel = EvaluationData.IgnoreLabel, SkipImagesWithoutClasses = true };
        BestHeadSegmentationMetrics bestHead = context.MulticlassClassification.EvaluateBestHeadSegmentation(data, classCount, "ClassMap", nameof(ScoredRow.HeadMasks), evaluation);
        BestHeadSegmentationMetrics merged = context.MulticlassClassification.EvaluateForegroundJaccard(data, 2, "Foreground", nameof(ScoredRow.Merged), evaluation);
        SemanticSegmentationMetrics voc = context.MulticlassClassification.EvaluateSegmentation(data, 2, "Foreground", nameof(ScoredRow.Mask), evaluation);
        return new AttentionScores(bestHead.MeanIntersectionOverUnion, merged.MeanIntersectionOverUnion, voc.PresentClassesMeanIntersectionOverUnion, bestHead.BestHeadCounts[^1]);
    }

    private sealed class TruthRow
    {
        public byte[] ClassMap { get; set; } = [];

        public byte[] Foreground { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }
    }

    private sealed class ScoredRow
    {
        public byte[] ClassMap { get; set; } = [];

        public byte[] Foreground { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }

        public bool[] HeadMasks { get; set; } = [];

        public bool[] Merged { get; set; } = [];

        public bool[] Mask { get; set; } = [];
    }
}
