using System.Text.Json;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Tests.Datasets;
using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Evaluation;

[TestClass]
public sealed class CocoResultsFileTests
{
    private string folder = null!;

    [TestInitialize]
    public void CreateFolder() => folder = Directory.CreateTempSubdirectory("coco-results-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    [TestMethod]
    public void MaskCutObjectsBecomeDetectionsAtImageSize()
    {
        // A 2×2 grid, two objects: the left column (score .8) and the top row (score .6), upsampled to 4×6 pixels.
        // Each patch covers 2×3 pixels; the top-left patch belongs to the first object, so the second keeps the
        // top-right patch only: pixels rows 0-1, columns 3-5.
        var left = new BinaryMask(2, 2, [true, false, true, false]);
        var top = new BinaryMask(2, 2, [true, true, false, false]);
        var result = new MaskCutResult(2, 2,
            [new MaskCutObject(left, new MaskBox(0, 0, 1, 2), 0.8, 0.1), new MaskCutObject(top, new MaskBox(0, 0, 2, 1), 0.6, 0.2)],
            FiedlerSolver.Dense, 2);
        IReadOnlyList<CocoDetection> detections = CocoDetections.FromMaskCut(result, imageId: 42, imageHeight: 4, imageWidth: 6);
        Assert.HasCount(2, detections);
        Assert.AreEqual(new CocoDetection(42, 1, 0.8, new CocoBox(0, 0, 3, 4), detections[0].Mask), detections[0]);
        Assert.AreEqual(new CocoDetection(42, 1, 0.6, new CocoBox(3, 0, 3, 2), detections[1].Mask), detections[1]);
        Assert.AreEqual(12, detections[0].Mask!.Area);
        Assert.AreEqual(6, detections[1].Mask!.Area);
        bool[] second = detections[1].Mask!.ToPixels().Cells.ToArray();
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                Assert.AreEqual(y < 2 && x >= 3, second[y * 6 + x], $"pixel ({x}, {y})");
    }

    [TestMethod]
    public void WrittenFileReadsBackAndEvaluatesAsTheOriginal()
    {
        // The masks fixture's detections, written by us and read back, give pycocotools' numbers for the original file.
        CocoDataset groundTruth = CocoDataset.Load(CocoFixtures.PathOf("masks_gt.json"));
        IReadOnlyList<CocoDetection> original = CocoResultsFile.Read(CocoFixtures.PathOf("masks_dt.json"), groundTruth);
        string path = Path.Combine(folder, "results.json");
        CocoResultsFile.Write(path, original.Select(d => d with { Box = null }));
        IReadOnlyList<CocoDetection> back = CocoResultsFile.Read(path, groundTruth);
        Assert.HasCount(original.Count, back);
        for (int i = 0; i < back.Count; i++)
        {
            Assert.AreEqual(original[i].Score, back[i].Score);
            Assert.AreEqual(original[i].Box, back[i].Box, "box around the mask");
            CollectionAssert.AreEqual(original[i].Mask!.Counts.ToArray(), back[i].Mask!.Counts.ToArray());
        }
        JsonElement expected = CocoFixtures.Get("evaluations")[1];
        Assert.AreEqual("masks_dt.json", expected.GetProperty("dt").GetString());
        double[] stats = CocoFixtures.Numbers(expected.GetProperty("stats"));
        double[] actual = CocoEvaluation.Evaluate(CocoFixtures.PathOf("masks_gt.json"), path, CocoIouType.Segmentation).ToArray();
        for (int s = 0; s < stats.Length; s++) Close.AreEqual(stats[s], actual[s], 1e-6, $"stat {s}");
    }

    [TestMethod]
    public void WritesCocosResultsFormat()
    {
        var mask = new RleMask(2, 3, [1, 4, 1]);
        string path = Path.Combine(folder, "one.json");
        CocoResultsFile.Write(path, [new CocoDetection(7, 3, 0.25, new CocoBox(0, 0, 3, 2), mask)]);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement d = json.RootElement[0];
        Assert.AreEqual(7, d.GetProperty("image_id").GetInt64());
        Assert.AreEqual(3, d.GetProperty("category_id").GetInt64());
        Assert.AreEqual(0.25, d.GetProperty("score").GetDouble());
        CollectionAssert.AreEqual(new double[] { 0, 0, 3, 2 }, CocoFixtures.Numbers(d.GetProperty("bbox")));
        CollectionAssert.AreEqual(new double[] { 2, 3 }, CocoFixtures.Numbers(d.GetProperty("segmentation").GetProperty("size")));
        Assert.AreEqual("141", d.GetProperty("segmentation").GetProperty("counts").GetString());
        Assert.ThrowsExactly<ArgumentException>(() => CocoResultsFile.Write(path, [new CocoDetection(7, 3, 0.25)]));
    }
}
