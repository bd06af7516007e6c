using System.Text.Json;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>Eq. 13–14 and DINO's Jaccard: hand-computed cases and numpy's evaluation of the reference definitions.</summary>
[TestClass]
public sealed class BestHeadSegmentationMetricsTests
{
    private static readonly MLContext Context = new(seed: 0);

    private sealed class HeadRow
    {
        [VectorType(2, 3)]
        public byte[] Mask { get; set; } = [];

        /// <summary>CrateSegment's layout: [heads, h, w].</summary>
        [VectorType(2, 2, 3)]
        public bool[] HeadMasks { get; set; } = [];
    }

    /// <summary>
    /// Image 1: truth [[0 0 1] [0 1 void]]; head 0 = [[1 1 0] [1 0 1]], head 1 = [[0 1 1] [0 1 1]].
    /// Image 2: truth all class 1, the same heads.
    /// </summary>
    private static IDataView TwoImages()
    {
        bool[] heads = [true, true, false, true, false, true, false, true, true, false, true, true];
        return Context.Data.LoadFromEnumerable(new[]
        {
            new HeadRow { Mask = [0, 0, 1, 0, 1, 255], HeadMasks = heads },
            new HeadRow { Mask = [1, 1, 1, 1, 1, 1], HeadMasks = heads },
        });
    }

    [TestMethod]
    public void Equations13And14ByHand()
    {
        // Image 1, void removed from every mask. Class 0 (3 pixels): head 0 covers exactly them → 1; head 1 → 1 / (3 + 3 − 1) = 0.2.
        // Class 1 (2 pixels): head 0 → 0; head 1 covers both plus one background → 2 / (2 + 3 − 2) = 2/3. Image: (1 + 2/3) / 2 = 5/6.
        // Image 2, class 1 (6 pixels): each head covers 4 → 4/6 = 2/3, a tie the lower head wins. Mean: (5/6 + 2/3) / 2 = 3/4.
        BestHeadSegmentationMetrics m = Context.MulticlassClassification.EvaluateBestHeadSegmentation(TwoImages(), classCount: 2);
        Close.AreEqual(0.75, m.MeanIntersectionOverUnion, 1e-15, "mIoU (eq. 14, averaged)");
        Assert.HasCount(1, m.LayerMeanIntersectionOverUnion);
        Close.AreEqual(1, m.PerClassIntersectionOverUnion[0][0], 1e-15, "class 0");
        Close.AreEqual(2.0 / 3, m.PerClassIntersectionOverUnion[0][1], 1e-15, "class 1, mean of 2/3 and 2/3");
        CollectionAssert.AreEqual(new long[] { 2, 1 }, m.BestHeadCounts[0].ToArray(), "head 0 best for class 0 and for image 2's class 1");
        Assert.AreEqual((2L, 0L), (m.ImageCount, m.SkippedImageCount));
    }

    [TestMethod]
    public void DinosJaccardByHand()
    {
        // Image 1: only class 1 is scored, and void pixels count. Head 0 (4 pixels, void included) misses it → 0;
        // head 1 (4 pixels) holds both → 2 / (2 + 4 − 2) = 1/2. Image 2: 2/3 as before. Mean: (1/2 + 2/3) / 2 = 7/12.
        BestHeadSegmentationMetrics m = Context.MulticlassClassification.EvaluateForegroundJaccard(TwoImages(), classCount: 2);
        Close.AreEqual(7.0 / 12, m.MeanIntersectionOverUnion, 1e-15, "Jaccard");
        Assert.IsTrue(double.IsNaN(m.PerClassIntersectionOverUnion[0][0]), "background is never scored");
        CollectionAssert.AreEqual(new long[] { 1, 1 }, m.BestHeadCounts[0].ToArray());
    }

    private sealed class OracleRow
    {
        [VectorType(9, 12)]
        public byte[] Mask { get; set; } = [];

        /// <summary>CrateAttention's layout: [layers, heads, h, w].</summary>
        [VectorType(2, 3, 3, 4)]
        public float[] Attention { get; set; } = [];
    }

    [TestMethod]
    public void AttentionMapsThresholdedAsTheReferencesDoMatchNumpy()
    {
        JsonElement oracle = SegmentationFixtures.Json("metric_oracle.json");
        Assert.AreEqual((2, 3, 3, 4, 3), (oracle.GetProperty("layers").GetInt32(), oracle.GetProperty("heads").GetInt32(),
            oracle.GetProperty("grid_height").GetInt32(), oracle.GetProperty("grid_width").GetInt32(), oracle.GetProperty("patch").GetInt32()));
        IDataView data = Context.Data.LoadFromEnumerable(oracle.GetProperty("cases").EnumerateArray().Select(c => new OracleRow
        {
            Mask = c.GetProperty("truth").EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray(),
            Attention = c.GetProperty("maps").EnumerateArray().Select(v => v.GetSingle()).ToArray(),
        }).ToArray());
        int classes = oracle.GetProperty("classes").GetInt32();
        // Truth 9×12 against a 3×4 grid: patches of 3, nearest upsampling, as numpy's np.kron does it.
        BestHeadSegmentationMetrics paper = Context.MulticlassClassification.EvaluateBestHeadSegmentation(data, classes, headMasksColumnName: "Attention");
        BestHeadSegmentationMetrics dino = Context.MulticlassClassification.EvaluateForegroundJaccard(data, classes, headMasksColumnName: "Attention");
        double[] expectedPaper = oracle.GetProperty("eq14_top_fraction").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        double[] expectedDino = oracle.GetProperty("dino_jaccard_mass").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (int layer = 0; layer < 2; layer++)
        {
            Close.AreEqual(expectedPaper[layer], paper.LayerMeanIntersectionOverUnion[layer], 1e-12, $"eq. 14, layer {layer}");
            Close.AreEqual(expectedDino[layer], dino.LayerMeanIntersectionOverUnion[layer], 1e-12, $"DINO's Jaccard, layer {layer}");
        }
        Assert.AreEqual(expectedPaper[1], paper.MeanIntersectionOverUnion);
        // The rules are what make the numbers: swapping them changes both.
        BestHeadSegmentationMetrics swapped = Context.MulticlassClassification.EvaluateBestHeadSegmentation(data, classes, headMasksColumnName: "Attention",
            options: new SegmentationEvaluationOptions { Rule = MaskRule.CumulativeMass });
        Assert.AreNotEqual(expectedPaper[0], swapped.LayerMeanIntersectionOverUnion[0]);
    }

    [TestMethod]
    public void ImagesWithNothingToScoreAreErrorsOrCountedSkips()
    {
        bool[] heads = new bool[12];
        IDataView data = Context.Data.LoadFromEnumerable(new[]
        {
            new HeadRow { Mask = [0, 0, 0, 0, 255, 0], HeadMasks = heads },
            new HeadRow { Mask = [1, 1, 1, 1, 1, 1], HeadMasks = heads },
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => Context.MulticlassClassification.EvaluateForegroundJaccard(data, 2));
        StringAssert.Contains(error.Message, "row 0");
        StringAssert.Contains(error.Message, "no foreground class");
        var log = new List<string>();
        var context = new MLContext();
        context.Log += (_, e) => { if (e.Message.Contains("Skipped")) log.Add(e.Message); };
        BestHeadSegmentationMetrics m = context.MulticlassClassification.EvaluateForegroundJaccard(data, 2,
            options: new SegmentationEvaluationOptions { SkipImagesWithoutClasses = true });
        Assert.AreEqual((1L, 1L), (m.ImageCount, m.SkippedImageCount));
        Close.AreEqual(0, m.MeanIntersectionOverUnion, 0, "empty heads score 0 on the full-foreground image");
        Assert.HasCount(1, log);
        // Eq. 13 scores background, so the first image counts there.
        Assert.AreEqual(2L, Context.MulticlassClassification.EvaluateBestHeadSegmentation(data, 2).ImageCount);

        var badId = Assert.ThrowsExactly<InvalidDataException>(() => Context.MulticlassClassification.EvaluateBestHeadSegmentation(
            Context.Data.LoadFromEnumerable(new[] { new HeadRow { Mask = [0, 0, 0, 0, 9, 0], HeadMasks = heads } }), 2));
        StringAssert.Contains(badId.Message, "class id 9");
        Assert.ThrowsExactly<ArgumentException>(() => Context.MulticlassClassification.EvaluateBestHeadSegmentation(data, 2, headMasksColumnName: "Mask"));
    }
}
