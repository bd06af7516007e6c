using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// Semantic segmentation scored as the PASCAL VOC devkit scores it (VOCevalseg.m): one confusion matrix N over every
/// pixel of every image whose truth is not the ignore label (255), N[t, p] = the number of pixels of true class t
/// predicted as p. For class c, IoU_c = TP / (TP + FP + FN) = N[c,c] / (Σ_p N[c,p] + Σ_t N[t,c] − N[c,c]).
/// </summary>
/// <remarks>
/// Worked example, two classes, truth [0 0 1 1 255] and prediction [0 1 1 1 0] in one image: the void pixel is not
/// counted, N = [[1, 1], [0, 2]], IoU₀ = 1 / (2 + 1 − 1) = 0.5, IoU₁ = 2 / (2 + 3 − 2) = 2/3, mIoU = 7/12,
/// pixel accuracy = 3/4.
/// </remarks>
public sealed record SemanticSegmentationMetrics
{
    /// <summary>C, the number of classes, background (class 0) included.</summary>
    public required int ClassCount { get; init; }

    /// <summary>N[t][p]: counted pixels of true class t predicted as p (the devkit's rawcounts).</summary>
    public required IReadOnlyList<IReadOnlyList<long>> ConfusionMatrix { get; init; }

    /// <summary>IoU_c for each class c. NaN for a class absent from both truth and prediction (0/0, as the devkit's
    /// MATLAB division gives it).</summary>
    public required IReadOnlyList<double> PerClassIntersectionOverUnion { get; init; }

    /// <summary>
    /// The devkit's mIoU: (1/C) Σ_c IoU_c over all C classes, background included. Like the devkit's mean, it is NaN when
    /// any class is absent from both truth and prediction; see <see cref="PresentClassesMeanIntersectionOverUnion"/>.
    /// </summary>
    public required double MeanIntersectionOverUnion { get; init; }

    /// <summary>The mean of IoU_c over the <see cref="PresentClassCount"/> classes that occur in the truth or the
    /// prediction (NaN-skipping, as mmsegmentation and torchmetrics report it); equal to
    /// <see cref="MeanIntersectionOverUnion"/> whenever every class occurs, as on VOC12 val.</summary>
    public required double PresentClassesMeanIntersectionOverUnion { get; init; }

    /// <summary>How many classes occur in the truth or the prediction of counted pixels.</summary>
    public required int PresentClassCount { get; init; }

    /// <summary>Σ_c N[c,c] / Σ N: the fraction of counted pixels labelled right (the devkit's commented-out overall accuracy).</summary>
    public required double PixelAccuracy { get; init; }

    /// <summary>Pixels counted (truth not the ignore label).</summary>
    public required long CountedPixelCount { get; init; }

    /// <summary>Pixels whose truth is the ignore label.</summary>
    public required long IgnoredPixelCount { get; init; }

    /// <summary>Images (rows) read.</summary>
    public required long ImageCount { get; init; }

    /// <summary>Accumulates the confusion matrix over <paramref name="data"/>; see <see cref="SegmentationEvaluationCatalog.EvaluateSegmentation"/>.</summary>
    internal static SemanticSegmentationMetrics Evaluate(IDataView data, int classCount, string labelColumnName, string predictedLabelColumnName,
        SegmentationEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Segmentation needs at least 2 classes (background and one more).");
        if (options.IgnoreLabel >= 0 && options.IgnoreLabel < classCount)
            throw new ArgumentOutOfRangeException(nameof(options), options.IgnoreLabel, $"The ignore label {options.IgnoreLabel} is one of the {classCount} class ids.");
        LabelMapColumn truth = LabelMapColumn.Find(data.Schema, labelColumnName, "label");
        LabelMapColumn prediction = LabelMapColumn.Find(data.Schema, predictedLabelColumnName, "predicted label");
        if (prediction.Planes != 1)
            throw new ArgumentException($"The predicted label column '{predictedLabelColumnName}' has type {prediction.Column.Type}: {prediction.Planes} masks a row, where one label map is expected.",
                nameof(predictedLabelColumnName));

        var confusion = new long[classCount, classCount];
        long ignored = 0, images = 0;
        using DataViewRowCursor cursor = data.GetRowCursor(TruthShape.Columns(data.Schema, options).Append(truth.Column).Append(prediction.Column).Distinct());
        Func<int[]> readTruth = truth.CreateReader(cursor), readPrediction = prediction.CreateReader(cursor);
        TruthShape shape = TruthShape.Create(cursor, truth, options);
        while (cursor.MoveNext())
        {
            int[] t = readTruth(), p = readPrediction();
            int[]? cellOf = shape.PixelToPrediction(t.Length, p.Length, prediction.Shape, predictedLabelColumnName);
            for (int i = 0; i < p.Length; i++)
                if ((uint)p[i] >= (uint)classCount)
                    throw new InvalidDataException($"{shape.Describe()}: the prediction '{predictedLabelColumnName}' has class id {p[i]} at entry {i}; ids must be 0–{classCount - 1}.");
            for (int i = 0; i < t.Length; i++)
            {
                int label = t[i];
                if (label == options.IgnoreLabel)
                {
                    ignored++;
                    continue;
                }
                if ((uint)label >= (uint)classCount)
                    throw new InvalidDataException($"{shape.Describe()}: the truth '{labelColumnName}' has class id {label} at entry {i}; ids must be 0–{classCount - 1} or {options.IgnoreLabel} (ignored).");
                confusion[label, p[cellOf is null ? i : cellOf[i]]]++;
            }
            images++;
        }
        if (images == 0) throw new ArgumentException("The data has no rows: there is nothing to evaluate.", nameof(data));
        return FromConfusion(confusion, ignored, images);
    }

    /// <summary>The metrics of a confusion matrix, by the devkit's formulas.</summary>
    internal static SemanticSegmentationMetrics FromConfusion(long[,] confusion, long ignored, long images)
    {
        int classes = confusion.GetLength(0);
        var rows = new long[classes];
        var columns = new long[classes];
        long total = 0, correct = 0;
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++)
            {
                rows[t] += confusion[t, p];
                columns[p] += confusion[t, p];
                total += confusion[t, p];
                if (t == p) correct += confusion[t, p];
            }
        if (total == 0) throw new InvalidDataException($"Every one of the {ignored} truth pixels is the ignore label: there is no pixel to score.");
        var iou = new double[classes];
        double sum = 0;
        int present = 0;
        for (int c = 0; c < classes; c++)
        {
            long union = rows[c] + columns[c] - confusion[c, c];
            iou[c] = union == 0 ? double.NaN : (double)confusion[c, c] / union;
            if (union == 0) continue;
            sum += iou[c];
            present++;
        }
        return new SemanticSegmentationMetrics
        {
            ClassCount = classes,
            ConfusionMatrix = Enumerable.Range(0, classes).Select(t => (IReadOnlyList<long>)Enumerable.Range(0, classes).Select(p => confusion[t, p]).ToArray()).ToArray(),
            PerClassIntersectionOverUnion = iou,
            MeanIntersectionOverUnion = iou.Average(),
            PresentClassesMeanIntersectionOverUnion = sum / present,
            PresentClassCount = present,
            PixelAccuracy = (double)correct / total,
            CountedPixelCount = total,
            IgnoredPixelCount = ignored,
            ImageCount = images,
        };
    }
}
