using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Evaluation;

/// <summary>Detections for COCO evaluation and results files from what the segmentation read-outs produce.</summary>
public static class CocoDetections
{
    /// <summary>
    /// One image's MaskCut objects as detections: the grid masks brought to the image's size by
    /// <see cref="MaskCutResult.Upsample"/> (nearest neighbour, earlier masks subtracted from later ones, masks left
    /// empty dropped), each as an RLE mask with the box around it and the object's score (1 − Ncut/2).
    /// </summary>
    /// <param name="result">MaskCut's output for the image.</param>
    /// <param name="imageId">The image's COCO id.</param>
    /// <param name="imageHeight">The image's height in pixels.</param>
    /// <param name="imageWidth">The image's width in pixels.</param>
    /// <param name="categoryId">The category to report. MaskCut finds objects, not classes, so the default 1 is meant
    /// for class-agnostic evaluation (<see cref="CocoEvaluationOptions.ClassAgnostic"/>), as CutLER evaluates it.</param>
    public static IReadOnlyList<CocoDetection> FromMaskCut(MaskCutResult result, long imageId, int imageHeight, int imageWidth, long categoryId = 1)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Upsample(imageHeight, imageWidth)
            .Select(m => Detection(imageId, categoryId, result.Objects[m.Source].Score, RleMask.FromPixels(m.Mask)))
            .ToList();
    }

    /// <summary>Masks at an image's size, with one score each, as detections (an RLE mask and the box around it).</summary>
    /// <param name="imageId">The image's COCO id.</param>
    /// <param name="masks">The masks, all of the image's size.</param>
    /// <param name="scores">One score per mask.</param>
    /// <param name="categoryId">The category to report; default 1 (see <see cref="FromMaskCut(MaskCutResult, long, int, int, long)"/>).</param>
    public static IReadOnlyList<CocoDetection> FromMasks(long imageId, IReadOnlyList<BinaryMask> masks, IReadOnlyList<double> scores, long categoryId = 1)
    {
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(scores);
        if (masks.Count != scores.Count)
            throw new ArgumentException($"{masks.Count} masks but {scores.Count} scores.", nameof(scores));
        return masks.Select((m, i) => Detection(imageId, categoryId, scores[i], RleMask.FromPixels(m))).ToList();
    }

    /// <summary>
    /// Every row's MaskCut objects as detections, read from the columns of <c>CrateMaskCut</c> (named by
    /// <paramref name="maskCutOptions"/>, the read-out's defaults when null) and the image's COCO id (the COCO reader's
    /// <see cref="Datasets.CocoInstances.ImageId"/> by default): COCO reader → CrateMaskCut → this → <see cref="CocoEvaluation"/>
    /// needs no column name. Each object is its mask at the image's size with the box around it and its score.
    /// </summary>
    /// <param name="data">CrateMaskCut's output over rows that carry an Int64 image id.</param>
    /// <param name="maskCutOptions">The options the read-out was made with (only their column names are read).</param>
    /// <param name="imageIdColumnName">The Int64 image id column. Default "ImageId".</param>
    /// <param name="categoryId">The category reported; default 1 (see <see cref="FromMaskCut(MaskCutResult, long, int, int, long)"/>).</param>
    public static IReadOnlyList<CocoDetection> FromMaskCut(IDataView data, CrateMaskCutOptions? maskCutOptions = null,
        string imageIdColumnName = Datasets.CocoInstances.ImageId, long categoryId = 1)
    {
        ArgumentNullException.ThrowIfNull(data);
        maskCutOptions ??= new CrateMaskCutOptions();
        DataViewSchema.Column Find(string name, string what, Func<DataViewType, bool> fits)
        {
            DataViewSchema.Column column = data.Schema.GetColumnOrNull(name)
                ?? throw new ArgumentOutOfRangeException(nameof(data), name, $"The data has no {what} column '{name}'.");
            return fits(column.Type) ? column : throw new ArgumentException($"The {what} column '{name}' is {column.Type}.", nameof(data));
        }
        static bool IsInt32(DataViewType t) => t == NumberDataViewType.Int32;
        DataViewSchema.Column id = Find(imageIdColumnName, "image id", t => t == NumberDataViewType.Int64);
        DataViewSchema.Column count = Find(maskCutOptions.ObjectCountColumnName, "object count", IsInt32);
        DataViewSchema.Column height = Find(maskCutOptions.MaskHeightColumnName, "mask height", IsInt32);
        DataViewSchema.Column width = Find(maskCutOptions.MaskWidthColumnName, "mask width", IsInt32);
        DataViewSchema.Column masks = Find(maskCutOptions.MasksColumnName, "masks", t => t is VectorDataViewType { ItemType: BooleanDataViewType });
        DataViewSchema.Column scores = Find(maskCutOptions.ScoresColumnName, "scores", t => t is VectorDataViewType { ItemType: NumberDataViewType n } && n.RawType == typeof(float));
        using DataViewRowCursor cursor = data.GetRowCursor([id, count, height, width, masks, scores]);
        ValueGetter<long> getId = cursor.GetGetter<long>(id);
        ValueGetter<int> getCount = cursor.GetGetter<int>(count), getHeight = cursor.GetGetter<int>(height), getWidth = cursor.GetGetter<int>(width);
        ValueGetter<VBuffer<bool>> getMasks = cursor.GetGetter<VBuffer<bool>>(masks);
        ValueGetter<VBuffer<float>> getScores = cursor.GetGetter<VBuffer<float>>(scores);
        VBuffer<bool> maskValues = default;
        VBuffer<float> scoreValues = default;
        var detections = new List<CocoDetection>();
        while (cursor.MoveNext())
        {
            long imageId = 0;
            int n = 0, h = 0, w = 0;
            getId(ref imageId);
            getCount(ref n);
            getHeight(ref h);
            getWidth(ref w);
            getMasks(ref maskValues);
            getScores(ref scoreValues);
            bool[] pixels = maskValues.DenseValues().ToArray();
            float[] score = scoreValues.DenseValues().ToArray();
            int cells = h * w;
            if (n < 0 || pixels.Length != n * cells || score.Length != n)
                throw new InvalidDataException($"Image {imageId}: {n} objects of {h}×{w} pixels need {n * cells} mask entries and {n} scores; " +
                    $"the row has {pixels.Length} and {score.Length}.");
            for (int k = 0; k < n; k++)
                detections.Add(Detection(imageId, categoryId, score[k], RleMask.FromPixels(new BinaryMask(h, w, pixels.AsSpan(k * cells, cells)))));
        }
        return detections;
    }

    private static CocoDetection Detection(long imageId, long categoryId, double score, RleMask mask) =>
        new(imageId, categoryId, score, mask.BoundingBox(), mask);
}
