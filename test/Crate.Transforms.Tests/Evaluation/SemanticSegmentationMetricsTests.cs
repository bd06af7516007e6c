using System.Text.Json;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Tests.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>The VOC devkit's mIoU by hand-computed cases and against numpy's devkit-formula expectations.</summary>
[TestClass]
public sealed class SemanticSegmentationMetricsTests
{
    private sealed class FlatRow
    {
        public string Name { get; set; } = "";

        [VectorType]
        public byte[] Mask { get; set; } = [];

        [VectorType]
        public int[] PredictedMask { get; set; } = [];
    }

    private static readonly MLContext Context = new(seed: 0);

    private static IDataView Flat(params (byte[] Truth, int[] Prediction)[] images) =>
        Context.Data.LoadFromEnumerable(images.Select((image, i) => new FlatRow { Name = $"image{i}", Mask = image.Truth, PredictedMask = image.Prediction }).ToArray());

    [TestMethod]
    public void TheDocumentedExample()
    {
        // Truth [0 0 1 1 void], prediction [0 1 1 1 0]: N = [[1, 1], [0, 2]].
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(Flat(([0, 0, 1, 1, 255], [0, 1, 1, 1, 0])), classCount: 2);
        CollectionAssert.AreEqual(new long[] { 1, 1 }, m.ConfusionMatrix[0].ToArray());
        CollectionAssert.AreEqual(new long[] { 0, 2 }, m.ConfusionMatrix[1].ToArray());
        Close.AreEqual(0.5, m.PerClassIntersectionOverUnion[0], 1e-15, "IoU of class 0 = 1 / (2 + 1 − 1)");
        Close.AreEqual(2.0 / 3, m.PerClassIntersectionOverUnion[1], 1e-15, "IoU of class 1 = 2 / (2 + 3 − 2)");
        Close.AreEqual(7.0 / 12, m.MeanIntersectionOverUnion, 1e-15, "mIoU");
        Close.AreEqual(7.0 / 12, m.PresentClassesMeanIntersectionOverUnion, 1e-15, "present-class mIoU");
        Close.AreEqual(0.75, m.PixelAccuracy, 1e-15, "pixel accuracy");
        Assert.AreEqual((4L, 1L, 1L, 2), (m.CountedPixelCount, m.IgnoredPixelCount, m.ImageCount, m.PresentClassCount));
    }

    [TestMethod]
    public void PixelsArePooledOverImagesNotAveragedPerImage()
    {
        // Image 1 (4 pixels): all class 1, predicted all 1. Image 2 (2 pixels): class 1, predicted 0.
        // Pooled: N = [[0, 0], [2, 4]]: IoU₁ = 4 / (6 + 4 − 4) = 2/3; IoU₀ = 0 / (0 + 2 − 0) = 0.
        // (A per-image mean of class 1 would be (1 + 0) / 2 = 0.5.)
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(
            Flat(([1, 1, 1, 1], [1, 1, 1, 1]), ([1, 1], [0, 0])), classCount: 2);
        Close.AreEqual(0, m.PerClassIntersectionOverUnion[0], 0, "IoU₀");
        Close.AreEqual(2.0 / 3, m.PerClassIntersectionOverUnion[1], 1e-15, "IoU₁");
        Close.AreEqual(1.0 / 3, m.MeanIntersectionOverUnion, 1e-15, "mIoU");
    }

    [TestMethod]
    public void AClassAbsentFromTruthAndPredictionIsNaNAsInTheDevkit()
    {
        // Three classes, class 2 never occurs: IoU₂ = 0/0. Class 0: N₀₀ = 2, IoU 1; class 1: 1.
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(Flat(([0, 0, 1], [0, 0, 1])), classCount: 3);
        Assert.IsTrue(double.IsNaN(m.PerClassIntersectionOverUnion[2]));
        Assert.IsTrue(double.IsNaN(m.MeanIntersectionOverUnion), "MATLAB's mean over a NaN");
        Close.AreEqual(1, m.PresentClassesMeanIntersectionOverUnion, 0, "mean over the two present classes");
        Assert.AreEqual(2, m.PresentClassCount);
    }

    private sealed class ShapedRow
    {
        [VectorType(4, 4)]
        public bool[] Mask { get; set; } = [];

        [VectorType(2, 2)]
        public bool[] PredictedMask { get; set; } = [];
    }

    [TestMethod]
    public void AGridPredictionIsReadUnderEachPixelCentre()
    {
        // Prediction on a 2×2 grid against 4×4 truth: each cell covers a 2×2 block. Cell (0,0) on, the rest off.
        // Truth: the top-left 3×3 square. TP = 4, FP = 0, FN = 5 → IoU₁ = 4/9; background: TP 7, FN 0, FP 5 → 7/12.
        bool[] truth = new bool[16];
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) truth[y * 4 + x] = true;
        IDataView data = Context.Data.LoadFromEnumerable(new[] { new ShapedRow { Mask = truth, PredictedMask = [true, false, false, false] } });
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(data, classCount: 2);
        Close.AreEqual(4.0 / 9, m.PerClassIntersectionOverUnion[1], 1e-15, "foreground");
        Close.AreEqual(7.0 / 12, m.PerClassIntersectionOverUnion[0], 1e-15, "background");
    }

    private sealed class SizedRow
    {
        [VectorType]
        public byte[] Mask { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }

        [VectorType(1, 2)]
        public int[] PredictedMask { get; set; } = [];
    }

    [TestMethod]
    public void VariableSizeTruthTakesItsShapeFromTheHeightAndWidthColumns()
    {
        // Prediction [1 | 2] on a 1×2 grid; truth 2×4 (left half reads cell 0, right half cell 1) and 1×2.
        IDataView data = Context.Data.LoadFromEnumerable(new[]
        {
            new SizedRow { Mask = [1, 1, 2, 2, 1, 0, 2, 255], Height = 2, Width = 4, PredictedMask = [1, 2] },
            new SizedRow { Mask = [1, 2], Height = 1, Width = 2, PredictedMask = [1, 2] },
        });
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(data, classCount: 3);
        // Counted: class 1 → 1 ×4 (3 in image 1, 1 in image 2); class 0 → 1 ×1; class 2 → 2 ×4 (3 + 1).
        CollectionAssert.AreEqual(new long[] { 0, 1, 0 }, m.ConfusionMatrix[0].ToArray());
        CollectionAssert.AreEqual(new long[] { 0, 4, 0 }, m.ConfusionMatrix[1].ToArray());
        CollectionAssert.AreEqual(new long[] { 0, 0, 4 }, m.ConfusionMatrix[2].ToArray());
        Assert.AreEqual(1L, m.IgnoredPixelCount);

        var unknownShape = Assert.ThrowsExactly<InvalidDataException>(() => Context.MulticlassClassification.EvaluateSegmentation(data, 3,
            options: new SegmentationEvaluationOptions { HeightColumnName = "H", WidthColumnName = "W" }));
        StringAssert.Contains(unknownShape.Message, "row 0");
        StringAssert.Contains(unknownShape.Message, "height and width are unknown");
    }

    [TestMethod]
    public void MatchesTheDevkitFormulaOnNumpyCases()
    {
        JsonElement oracle = SegmentationFixtures.Json("metric_oracle.json");
        int classes = oracle.GetProperty("classes").GetInt32(), patch = oracle.GetProperty("patch").GetInt32();
        int gridHeight = oracle.GetProperty("grid_height").GetInt32(), gridWidth = oracle.GetProperty("grid_width").GetInt32();
        var rows = oracle.GetProperty("cases").EnumerateArray().Select(c => new OracleRow
        {
            Mask = c.GetProperty("truth").EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray(),
            PredictedMask = c.GetProperty("prediction").EnumerateArray().Select(v => v.GetInt32()).ToArray(),
        }).ToArray();
        Assert.AreEqual((3, 4, 3), (gridHeight, gridWidth, patch), "the shapes OracleRow declares");
        SemanticSegmentationMetrics m = Context.MulticlassClassification.EvaluateSegmentation(Context.Data.LoadFromEnumerable(rows), classes);
        long[][] confusion = oracle.GetProperty("devkit_confusion").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        for (int t = 0; t < classes; t++) CollectionAssert.AreEqual(confusion[t], m.ConfusionMatrix[t].ToArray(), $"confusion row {t}");
        JsonElement[] iou = oracle.GetProperty("devkit_iou").EnumerateArray().ToArray();
        for (int c = 0; c < classes; c++)
        {
            if (iou[c].ValueKind == JsonValueKind.Null) Assert.IsTrue(double.IsNaN(m.PerClassIntersectionOverUnion[c]), $"class {c} never occurs");
            else Close.AreEqual(iou[c].GetDouble(), m.PerClassIntersectionOverUnion[c], 1e-12, $"IoU of class {c}");
        }
        Close.AreEqual(oracle.GetProperty("devkit_present_mean").GetDouble(), m.PresentClassesMeanIntersectionOverUnion, 1e-12, "nanmean of IoU");
        Close.AreEqual(oracle.GetProperty("pixel_accuracy").GetDouble(), m.PixelAccuracy, 1e-12, "pixel accuracy");
    }

    private sealed class OracleRow
    {
        [VectorType(9, 12)]
        public byte[] Mask { get; set; } = [];

        [VectorType(3, 4)]
        public int[] PredictedMask { get; set; } = [];
    }

    private sealed class KeyRow
    {
        [VectorType(2)]
        public byte[] Mask { get; set; } = [];

        [KeyType(3), VectorType(2)]
        public uint[] PredictedMask { get; set; } = [];
    }

    [TestMethod]
    public void KeyTypedPredictionsAreRefusedRatherThanReadOneOff()
    {
        IDataView data = Context.Data.LoadFromEnumerable(new[] { new KeyRow { Mask = [0, 1], PredictedMask = [1, 2] } });
        var error = Assert.ThrowsExactly<ArgumentException>(() => Context.MulticlassClassification.EvaluateSegmentation(data, 3));
        StringAssert.Contains(error.Message, "MapKeyToValue");
    }

    [TestMethod]
    public void BadInputNamesTheRowAndTheProblem()
    {
        var evaluate = Context.MulticlassClassification;
        var truthId = Assert.ThrowsExactly<InvalidDataException>(() => evaluate.EvaluateSegmentation(Flat(([0, 1], [0, 1]), ([0, 7], [0, 1])), 3));
        StringAssert.Contains(truthId.Message, "row 1 (image1)");
        StringAssert.Contains(truthId.Message, "class id 7");
        var predictedId = Assert.ThrowsExactly<InvalidDataException>(() => evaluate.EvaluateSegmentation(Flat(([0, 1], [0, 3])), 3));
        StringAssert.Contains(predictedId.Message, "row 0 (image0)");
        StringAssert.Contains(predictedId.Message, "class id 3");
        var size = Assert.ThrowsExactly<InvalidDataException>(() => evaluate.EvaluateSegmentation(Flat(([0, 1, 1], [0, 1])), 3));
        StringAssert.Contains(size.Message, "row 0 (image0)");
        StringAssert.Contains(size.Message, "2 entries");
        var empty = Assert.ThrowsExactly<ArgumentException>(() => evaluate.EvaluateSegmentation(Flat(), 3));
        StringAssert.Contains(empty.Message, "no rows");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => evaluate.EvaluateSegmentation(Flat(([255, 255], [0, 1])), 3)).Message, "ignore label");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => evaluate.EvaluateSegmentation(Flat(([0], [0])), 3, "Truth")).Message, "no label column 'Truth'");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => evaluate.EvaluateSegmentation(Flat(([0], [0])), 3, "Name")).Message, "has type");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => evaluate.EvaluateSegmentation(Flat(([0], [0])), 300));
    }
}
