using Crate.Transforms.Evaluation;
using Crate.Transforms.Tests.Datasets;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>
/// Cases small enough to work out by hand. pycocotools divides by tp + fp + 2⁻⁵², so its "1" is 1/(1 + 2⁻⁵²); the
/// hand values below are the exact fractions, met to 1e-12.
/// </summary>
[TestClass]
public sealed class CocoEvaluationHandWorkedTests
{
    private static readonly CocoCategory Thing = new(1, "thing");

    private static CocoAnnotation Box(long id, long image, double x, double y, double w, double h, bool crowd = false, long category = 1) =>
        new(id, image, category, new CocoBox(x, y, w, h), w * h, crowd, null);

    private static CocoDetection Detection(long image, double score, double x, double y, double w, double h, long category = 1) =>
        new(image, category, score, new CocoBox(x, y, w, h));

    private static CocoMetrics Evaluate(IReadOnlyList<CocoAnnotation> objects, IReadOnlyList<CocoDetection> detections, int images = 1,
        IReadOnlyList<CocoCategory>? categories = null) =>
        CocoEvaluation.Evaluate(
            new CocoDataset(Enumerable.Range(1, images).Select(i => new CocoImage(i, 200, 200, $"{i}.jpg")).ToList(), objects, categories ?? [Thing]),
            detections, CocoIouType.BoundingBox);

    [TestMethod]
    public void OneDetectionAtIou07755GivesAP06()
    {
        // IoU = (10·7.755)/(100) = 0.7755: a match at the six thresholds 0.50 … 0.75, a miss at 0.80 … 0.95.
        // Each matched threshold has precision 1 at every recall point, each missed one 0: AP = 6/10.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10)], [Detection(1, 0.9, 0, 0, 10, 7.755)]);
        Close.AreEqual(0.6, m.AP, 1e-12, "AP");
        Close.AreEqual(1, m.AP50, 1e-12, "AP50");
        Close.AreEqual(1, m.AP75, 1e-12, "AP75");
        Close.AreEqual(0.6, m.AR100, 1e-12, "AR100: recall 1 at six thresholds of ten");
        Close.AreEqual(0.6, m.APSmall, 1e-12, "APSmall: area 100 ≤ 32²");
        Assert.AreEqual(-1, m.APMedium, "no medium object");
        Assert.AreEqual(-1, m.ARLarge, "no large object");
        Close.AreEqual(0.6, m.PerCategoryAP[1], 1e-12, "per-category AP");
    }

    [TestMethod]
    public void TwoObjectsOnePerfectDetectionGives51Over101()
    {
        // Recall reaches 1/2 with precision 1: the recall points 0, 0.01, …, 0.50 (51 of 101) read 1, the rest 0.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10), Box(2, 1, 50, 50, 10, 10)], [Detection(1, 0.9, 0, 0, 10, 10)]);
        Close.AreEqual(51.0 / 101, m.AP, 1e-12, "AP");
        Close.AreEqual(51.0 / 101, m.AP50, 1e-12, "AP50");
        Close.AreEqual(0.5, m.AR100, 1e-12, "AR100");
    }

    [TestMethod]
    public void DetectionInsideACrowdIsIgnored()
    {
        // d1 (score .95) lies inside the crowd region C: IoU against a crowd is |d ∩ C| / |d| = 100/100 = 1 (it would
        // be 100/1600 as a plain object), so d1 matches C and is ignored. d2 (.90) matches the object A exactly, and a
        // third detection (.85) also inside C is absorbed by it too (a crowd can be matched again). AP = AR = 1.
        CocoAnnotation a = Box(1, 1, 0, 0, 10, 10), crowd = Box(2, 1, 50, 50, 40, 40, crowd: true);
        CocoDetection inCrowd = Detection(1, 0.95, 60, 60, 10, 10), onA = Detection(1, 0.90, 0, 0, 10, 10), alsoInCrowd = Detection(1, 0.85, 70, 70, 5, 5);
        CocoMetrics withCrowd = Evaluate([a, crowd], [inCrowd, onA, alsoInCrowd]);
        Close.AreEqual(1, withCrowd.AP, 1e-12, "AP with the crowd region");
        Close.AreEqual(1, withCrowd.AR100, 1e-12, "AR with the crowd region");
        // Without the crowd region the first and third detections are false positives: at rank 2 precision 1/2 and
        // recall 1, so the envelope reads 1/2 at every recall point.
        CocoMetrics withoutCrowd = Evaluate([a], [inCrowd, onA, alsoInCrowd]);
        Close.AreEqual(0.5, withoutCrowd.AP, 1e-12, "AP without the crowd region");
        // A detection that only partly covers the crowd: |d ∩ C| / |d| = 400/900 < 0.5, a false positive ranked first.
        CocoMetrics partly = Evaluate([a, crowd], [Detection(1, 0.95, 40, 40, 30, 30), onA]);
        Close.AreEqual(0.5, partly.AP, 1e-12, "AP with a detection partly on the crowd");
    }

    [TestMethod]
    public void DetectionsOnAnImageWithoutObjectsAreFalsePositives()
    {
        // Image 2 has no objects; its detection (.9) outranks the perfect one on image 1 (.5): precision 1/2 at recall 1.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10)], [Detection(1, 0.5, 0, 0, 10, 10), Detection(2, 0.9, 0, 0, 10, 10)], images: 2);
        Close.AreEqual(0.5, m.AP, 1e-12, "AP");
        Close.AreEqual(1, m.AR100, 1e-12, "AR100");
        // Only the best detection per image counts for AR1, and each image's best is its only one.
        Close.AreEqual(1, m.AR1, 1e-12, "AR1");
    }

    [TestMethod]
    public void CategoriesWithoutObjectsAreLeftOut()
    {
        // Category 2 has detections but no objects: its precision is undefined (−1) and leaves the mean, so AP is category 1's.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10)],
            [Detection(1, 0.9, 0, 0, 10, 10), Detection(1, 0.8, 50, 50, 10, 10, category: 2)],
            categories: [Thing, new CocoCategory(2, "other")]);
        Close.AreEqual(1, m.AP, 1e-12, "AP");
        CollectionAssert.AreEqual(new long[] { 1 }, m.PerCategoryAP.Keys.ToArray());
    }

    [TestMethod]
    public void MaxDetectionsLimitRecall()
    {
        // Two objects, two perfect detections on one image: AR1 = 1/2 (one detection), AR10 = AR100 = 1.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10), Box(2, 1, 50, 50, 10, 10)],
            [Detection(1, 0.9, 0, 0, 10, 10), Detection(1, 0.8, 50, 50, 10, 10)]);
        Close.AreEqual(0.5, m.AR1, 1e-12, "AR1");
        Close.AreEqual(1, m.AR10, 1e-12, "AR10");
        Close.AreEqual(1, m.AP, 1e-12, "AP");
    }

    [TestMethod]
    public void UnmatchedDetectionsOutsideTheAreaRangeAreIgnored()
    {
        // A medium object (40×40 = 1600) found, and a false positive of area 100 ranked first. Over all areas the false
        // positive halves the precision; over medium objects it is outside the range and unmatched, so ignored.
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 40, 40)], [Detection(1, 0.9, 100, 100, 10, 10), Detection(1, 0.8, 0, 0, 40, 40)]);
        Close.AreEqual(0.5, m.AP, 1e-12, "AP over all areas");
        Close.AreEqual(1, m.APMedium, 1e-12, "APMedium");
        Assert.AreEqual(-1, m.APSmall, "no small object");
    }

    [TestMethod]
    public void SummaryPrintsLikePycocotools()
    {
        CocoMetrics m = Evaluate([Box(1, 1, 0, 0, 10, 10)], [Detection(1, 0.9, 0, 0, 10, 7.755)]);
        string[] lines = m.Summary().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(12, lines);
        Assert.AreEqual(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.600", lines[0]);
        Assert.AreEqual(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000", lines[10]);
    }
}
