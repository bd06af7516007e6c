using Microsoft.ML;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// Segmentation metrics on <c>mlContext.MulticlassClassification</c>, beside ML.NET's own
/// <c>Evaluate</c> and Microsoft.ML.TorchSharp's <c>EvaluateObjectDetection</c>, which lives on the same catalog:
/// semantic segmentation is multiclass classification of every pixel. Each method reads an IDataView of truth and
/// prediction columns named by its parameters and returns a metrics record.
/// </summary>
/// <remarks>
/// Columns: truth and predicted label maps are vectors of Boolean (false = 0, true = 1), Byte, UInt16, Int32 or
/// UInt32, row-major. Truth and prediction of the same number of entries are compared entry by entry. A prediction of
/// another size (CrateSegment's masks on the patch grid, or at the network's input size, against VOC's masks at the
/// image's size) must have a column type that gives its [height, width]; the truth's size then comes from its own
/// type or from Int32 Height and Width columns (<see cref="SegmentationEvaluationOptions.HeightColumnName"/>), and each
/// truth pixel reads the prediction cell under its centre (row y reads ⌊(y + ½)·h/H⌋), the rule of
/// <see cref="Segmentation.GridUpsampling"/>. Every metric is computed at the truth's resolution.
/// Errors name the row (and its Name column when present) and the problem: a class id out of range, sizes that do not
/// fit, no rows.
/// </remarks>
public static class SegmentationEvaluationCatalog
{
    /// <summary>
    /// The PASCAL VOC devkit's semantic segmentation score (VOCevalseg.m): one C×C confusion matrix N over all pixels of
    /// all images whose truth is not <see cref="SegmentationEvaluationOptions.IgnoreLabel"/> (255),
    /// N[t, p] += 1 for each such pixel of truth t and prediction p; then for each class c
    /// IoU_c = N[c,c] / (Σ_p N[c,p] + Σ_t N[t,c] − N[c,c]) (true positives over true positives, false positives and false
    /// negatives), and mIoU = (1/C) Σ_c IoU_c over all C classes, background (0) included. A class absent from both truth
    /// and prediction has IoU 0/0 = NaN, and then the devkit's mean, <see cref="SemanticSegmentationMetrics.MeanIntersectionOverUnion"/>,
    /// is NaN too; <see cref="SemanticSegmentationMetrics.PresentClassesMeanIntersectionOverUnion"/> averages the other classes.
    /// Pixels are pooled over the whole set, so large images weigh more than small ones.
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.</param>
    /// <param name="data">Rows with a truth and a predicted label map.</param>
    /// <param name="classCount">C: truth ids must be 0…C−1 or the ignore label; predicted ids 0…C−1 (the devkit rejects others too).
    /// 21 for VOC; 2 for a foreground mask (CrateSegment's Boolean Mask) against a binary truth.</param>
    /// <param name="labelColumnName">The truth label maps. Default "Mask", the dataset readers' column.</param>
    /// <param name="predictedLabelColumnName">The predicted label maps. Default "PredictedMask".</param>
    /// <param name="options">Ignore label, size columns. Default <see cref="SegmentationEvaluationOptions"/>' defaults.</param>
    public static SemanticSegmentationMetrics EvaluateSegmentation(this MulticlassClassificationCatalog catalog, IDataView data, int classCount,
        string labelColumnName = "Mask", string predictedLabelColumnName = "PredictedMask", SegmentationEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return SemanticSegmentationMetrics.Evaluate(data, classCount, labelColumnName, predictedLabelColumnName, options ?? new SegmentationEvaluationOptions());
    }

    /// <summary>
    /// The paper's coarse-segmentation mIoU (Appendix B.3, eqs. 13–14) of class-agnostic head masks. For each image and
    /// layer ℓ: the scored classes m are those with at least one pixel in the truth, background (0) included (the tokens
    /// are "partitioned into M semantic classes"); void pixels (the ignore label) are removed from the truth S_m and from
    /// every head mask A_k^ℓ; then mIoU_m^ℓ = max_k |S_m ∩ A_k^ℓ| / (|S_m| + |A_k^ℓ| − |S_m ∩ A_k^ℓ|) (eq. 13, the best
    /// head for that class in that image), mIoU^ℓ = (1/M) Σ_m mIoU_m^ℓ (eq. 14), and the result is the mean of mIoU^ℓ over
    /// the images. Since |S_m| ≥ 1, no union is empty. Float attention maps are first thresholded per head by
    /// <see cref="SegmentationEvaluationOptions.Rule"/> (default: keep the top P = 60 % of entries, the paper's rule).
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.</param>
    /// <param name="data">Rows with a truth label map and head masks.</param>
    /// <param name="classCount">C: truth ids must be 0…C−1 or the ignore label.</param>
    /// <param name="labelColumnName">The truth label maps. Default "Mask".</param>
    /// <param name="headMasksColumnName">Boolean masks [heads, h, w] (CrateSegment's HeadMasks, one layer) or [layers, heads, h, w],
    /// or Single attention maps of those shapes (CrateAttention's output). Default "HeadMasks".</param>
    /// <param name="options">Ignore label, size columns, thresholding. Default <see cref="SegmentationEvaluationOptions"/>' defaults.</param>
    public static BestHeadSegmentationMetrics EvaluateBestHeadSegmentation(this MulticlassClassificationCatalog catalog, IDataView data, int classCount,
        string labelColumnName = "Mask", string headMasksColumnName = "HeadMasks", SegmentationEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return BestHeadSegmentationMetrics.Evaluate(catalog, data, classCount, labelColumnName, headMasksColumnName,
            options ?? new SegmentationEvaluationOptions(), foregroundOnly: false, "the best-head mIoU (eq. 13-14)");
    }

    /// <summary>
    /// DINO's per-image Jaccard similarity of thresholded self-attention on PASCAL VOC12 (Caron et al., 2021, Fig. 4's table),
    /// as its evaluation code computes it: for each image, each class id o present in the truth other than 0 (background)
    /// and the ignore label (DINO's "objects"), J_o = max_k |S_o ∩ A_k| / |S_o ∪ A_k| over the heads; the image's score is
    /// the mean of J_o over its objects, and the result the mean over images. Unlike eq. 13, background is not scored and
    /// void pixels are not removed: a head that covers void pixels grows its union (DINO's code only compares pixels with
    /// the object's id). Float attention maps are first thresholded per head by <see cref="SegmentationEvaluationOptions.Rule"/>
    /// (default: the fewest largest entries holding 60 % of the map's mass, DINO's rule).
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.</param>
    /// <param name="data">Rows with a truth label map and head masks.</param>
    /// <param name="classCount">C: truth ids must be 0…C−1 or the ignore label.</param>
    /// <param name="labelColumnName">The truth label maps. Default "Mask".</param>
    /// <param name="headMasksColumnName">As for <see cref="EvaluateBestHeadSegmentation"/>. Default "HeadMasks".</param>
    /// <param name="options">Ignore label, size columns, thresholding. Default <see cref="SegmentationEvaluationOptions"/>' defaults.</param>
    public static BestHeadSegmentationMetrics EvaluateForegroundJaccard(this MulticlassClassificationCatalog catalog, IDataView data, int classCount,
        string labelColumnName = "Mask", string headMasksColumnName = "HeadMasks", SegmentationEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return BestHeadSegmentationMetrics.Evaluate(catalog, data, classCount, labelColumnName, headMasksColumnName,
            options ?? new SegmentationEvaluationOptions(), foregroundOnly: true, "DINO's foreground Jaccard");
    }
}
