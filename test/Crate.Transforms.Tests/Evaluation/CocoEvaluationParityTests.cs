using System.Text.Json;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Tests.Datasets;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>Every statistic against pycocotools' own numbers on the fixture files (Fixtures/Coco/make_coco_fixtures.py).</summary>
[TestClass]
public sealed class CocoEvaluationParityTests
{
    /// <summary>The issue's bounds: boxes to 1e-12, masks to 1e-6.</summary>
    private static double Tolerance(CocoIouType type) => type == CocoIouType.BoundingBox ? 1e-12 : 1e-6;

    public static IEnumerable<object[]> Evaluations() =>
        CocoFixtures.Get("evaluations").EnumerateArray().Select((e, i) => new object[]
        {
            $"{e.GetProperty("dt").GetString()} {e.GetProperty("iouType").GetString()} useCats={e.GetProperty("useCats").GetInt32()}", i,
        });

    [TestMethod]
    [DynamicData(nameof(Evaluations))]
    public void StatisticsEqualPycocotools(string name, int index)
    {
        JsonElement expected = CocoFixtures.Get("evaluations")[index];
        CocoIouType type = expected.GetProperty("iouType").GetString() == "bbox" ? CocoIouType.BoundingBox : CocoIouType.Segmentation;
        var options = new CocoEvaluationOptions { ClassAgnostic = expected.GetProperty("useCats").GetInt32() == 0 };
        CocoMetrics metrics = CocoEvaluation.Evaluate(CocoFixtures.PathOf(expected.GetProperty("gt").GetString()!),
            CocoFixtures.PathOf(expected.GetProperty("dt").GetString()!), type, options);

        double[] stats = CocoFixtures.Numbers(expected.GetProperty("stats"));
        string[] names = ["AP", "AP50", "AP75", "APSmall", "APMedium", "APLarge", "AR1", "AR10", "AR100", "ARSmall", "ARMedium", "ARLarge"];
        double[] actual = metrics.ToArray();
        Console.WriteLine($"{name}: largest difference {stats.Zip(actual, (a, b) => Math.Abs(a - b)).Max():G3}");
        for (int s = 0; s < stats.Length; s++) Close.AreEqual(stats[s], actual[s], Tolerance(type), $"{name} {names[s]}");

        var perCategory = expected.GetProperty("perCategoryAP").EnumerateObject().ToDictionary(p => long.Parse(p.Name), p => p.Value.GetDouble());
        CollectionAssert.AreEquivalent(perCategory.Keys.ToArray(), metrics.PerCategoryAP.Keys.ToArray(), $"{name}: categories with AP");
        foreach ((long category, double ap) in perCategory)
            Close.AreEqual(ap, metrics.PerCategoryAP[category], Tolerance(type), $"{name} AP of category {category}");
        Assert.AreEqual(type, metrics.IouType);
    }

    [TestMethod]
    public void ThresholdsAreNumpysLinspace()
    {
        // Bit for bit: the recall point 0.35 is 35·0.01 = 0.35000000000000003, so a recall of exactly 7/20 misses it.
        CollectionAssert.AreEqual(CocoFixtures.Numbers(CocoFixtures.Get("iouThresholds")), CocoEvaluator.IouThresholds);
        CollectionAssert.AreEqual(CocoFixtures.Numbers(CocoFixtures.Get("recallThresholds")), CocoEvaluator.RecallThresholds);
        Assert.IsGreaterThan(7.0 / 20, CocoEvaluator.RecallThresholds[35]);
    }

    [TestMethod]
    public void InMemoryEvaluationOfTheFileDataGivesTheSameNumbers()
    {
        // The in-memory entry point over the same objects and detections (areas as the results reader set them).
        CocoDataset groundTruth = CocoDataset.Load(CocoFixtures.PathOf("masks_gt.json"));
        IReadOnlyList<CocoDetection> detections = CocoResultsFile.Read(CocoFixtures.PathOf("masks_dt.json"), groundTruth, new CocoEvaluationOptions(), out int skipped);
        Assert.AreEqual(0, skipped);
        JsonElement expected = CocoFixtures.Get("evaluations").EnumerateArray()
            .First(e => e.GetProperty("dt").GetString() == "masks_dt.json" && e.GetProperty("iouType").GetString() == "segm");
        double[] stats = CocoFixtures.Numbers(expected.GetProperty("stats"));
        double[] actual = CocoEvaluation.Evaluate(groundTruth, detections, CocoIouType.Segmentation).ToArray();
        for (int s = 0; s < stats.Length; s++) Close.AreEqual(stats[s], actual[s], 1e-6, $"stat {s}");
        // Without the reader's areas, mask evaluation takes the mask's area: the same here, since these results have no box.
        double[] withoutAreas = CocoEvaluation.Evaluate(groundTruth, detections.Select(d => d with { Area = null }), CocoIouType.Segmentation).ToArray();
        CollectionAssert.AreEqual(actual, withoutAreas);
    }
}
