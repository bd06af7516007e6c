using System.Globalization;
using System.Text;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// COCO's twelve summary statistics (pycocotools' COCOeval.stats, in that order) and the AP of each category. Every
/// value lies in [0, 1], or is −1 where pycocotools gives −1: no ground truth in that area range (or no category with
/// any). AP averages interpolated precision over the IoU thresholds 0.50:0.05:0.95, the 101 recall points 0:0.01:1 and
/// the categories; AR averages the highest recall reached over the thresholds and categories. See docs/evaluation.md
/// for the formulas.
/// </summary>
/// <param name="AP">AP at IoU 0.50:0.95, all areas, 100 detections per image: COCO's headline number.</param>
/// <param name="AP50">AP at IoU 0.50.</param>
/// <param name="AP75">AP at IoU 0.75.</param>
/// <param name="APSmall">AP over objects of area ≤ 32².</param>
/// <param name="APMedium">AP over objects of area in [32², 96²].</param>
/// <param name="APLarge">AP over objects of area ≥ 96².</param>
/// <param name="AR1">AR with 1 detection per image.</param>
/// <param name="AR10">AR with 10 detections per image.</param>
/// <param name="AR100">AR with 100 detections per image.</param>
/// <param name="ARSmall">AR (100 detections) over small objects.</param>
/// <param name="ARMedium">AR (100 detections) over medium objects.</param>
/// <param name="ARLarge">AR (100 detections) over large objects.</param>
public sealed record CocoMetrics(
    double AP, double AP50, double AP75, double APSmall, double APMedium, double APLarge,
    double AR1, double AR10, double AR100, double ARSmall, double ARMedium, double ARLarge)
{
    /// <summary>AP (IoU 0.50:0.95, all areas, 100 detections) of each category with ground truth, by category id;
    /// empty in class-agnostic evaluation.</summary>
    public IReadOnlyDictionary<long, double> PerCategoryAP { get; init; } = new Dictionary<long, double>();

    /// <summary>What was compared: boxes or masks.</summary>
    public CocoIouType IouType { get; init; }

    /// <summary>Detections skipped as invalid (<see cref="CocoEvaluationOptions.SkipInvalidDetections"/>).</summary>
    public int SkippedDetections { get; init; }

    /// <summary>The twelve statistics in pycocotools' order (AP, AP50, …, ARLarge).</summary>
    public double[] ToArray() => [AP, AP50, AP75, APSmall, APMedium, APLarge, AR1, AR10, AR100, ARSmall, ARMedium, ARLarge];

    /// <summary>The twelve lines pycocotools' summarize() prints.</summary>
    public string Summary()
    {
        var lines = new StringBuilder();
        (string Title, string Iou, string Area, int Detections)[] rows =
        [
            ("Average Precision  (AP)", "0.50:0.95", "all", 100), ("Average Precision  (AP)", "0.50", "all", 100),
            ("Average Precision  (AP)", "0.75", "all", 100), ("Average Precision  (AP)", "0.50:0.95", "small", 100),
            ("Average Precision  (AP)", "0.50:0.95", "medium", 100), ("Average Precision  (AP)", "0.50:0.95", "large", 100),
            ("Average Recall     (AR)", "0.50:0.95", "all", 1), ("Average Recall     (AR)", "0.50:0.95", "all", 10),
            ("Average Recall     (AR)", "0.50:0.95", "all", 100), ("Average Recall     (AR)", "0.50:0.95", "small", 100),
            ("Average Recall     (AR)", "0.50:0.95", "medium", 100), ("Average Recall     (AR)", "0.50:0.95", "large", 100),
        ];
        double[] values = ToArray();
        for (int i = 0; i < rows.Length; i++)
            lines.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $" {rows[i].Title} @[ IoU={rows[i].Iou,-9} | area={rows[i].Area,6} | maxDets={rows[i].Detections,3} ] = {values[i]:0.000}"));
        return lines.ToString();
    }
}
