using Crate.Transforms.Evaluation;
using Crate.Transforms.Tests.Datasets;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>Bad COCO input fails with a message naming the file, the record and the problem; nothing is dropped silently.</summary>
[TestClass]
public sealed class CocoBadInputTests
{
    private const string Image = """{"id": 1, "width": 10, "height": 10, "file_name": "a.jpg"}""";
    private const string Category = """{"id": 1, "name": "thing"}""";
    private const string Object = """{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]}""";
    private const string GoodDetection = """{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.9}""";

    private string folder = null!;

    [TestInitialize]
    public void CreateFolder() => folder = Directory.CreateTempSubdirectory("coco-bad-input-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    private string Write(string name, string json)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, json);
        return path;
    }

    private string GroundTruth(string objects = Object) =>
        Write("gt.json", $$"""{"images": [{{Image}}], "categories": [{{Category}}], "annotations": [{{objects}}]}""");

    private static void AssertNames(CocoFormatException e, string path, string? record, params string[] problem)
    {
        Console.WriteLine(e.Message);
        Assert.AreEqual(path, e.FilePath);
        Assert.AreEqual(record, e.Record);
        StringAssert.StartsWith(e.Message, path);
        foreach (string part in problem) StringAssert.Contains(e.Message, part);
    }

    [TestMethod]
    public void MissingFilesAreNamed()
    {
        string missing = Path.Combine(folder, "nope.json");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => CocoEvaluation.Evaluate(missing, missing, CocoIouType.BoundingBox));
        StringAssert.Contains(e.Message, missing);
        string gt = GroundTruth();
        Assert.ThrowsExactly<FileNotFoundException>(() => CocoEvaluation.Evaluate(gt, missing, CocoIouType.BoundingBox));
    }

    [TestMethod]
    public void JsonThatIsNotCoco()
    {
        string broken = Write("broken.json", "{\"images\": [");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(broken)), broken, null, "not valid JSON");
        string noAnnotations = Write("no-annotations.json", $$"""{"images": [{{Image}}], "categories": [{{Category}}]}""");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(noAnnotations)), noAnnotations, null, "\"annotations\"");
        string array = Write("array.json", "[]");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(array)), array, null, "expected a JSON object");
        string badBox = GroundTruth(Object.Replace("[0, 0, 4, 4]", "\"0 0 4 4\""));
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(badBox)), badBox, "annotations[0] (id 7)", "\"bbox\"", "string");
        string noArea = GroundTruth(Object.Replace("\"area\": 16, ", ""));
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(noArea)), noArea, "annotations[0] (id 7)", "missing \"area\"");
        string textId = GroundTruth(Object.Replace("\"id\": 7", "\"id\": \"7\""));
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(textId)), textId, "annotations[0]", "\"id\" must be an integer");
        string crowdFlag = GroundTruth(Object.Replace("\"iscrowd\": 0", "\"iscrowd\": 2"));
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(crowdFlag)), crowdFlag, "annotations[0] (id 7)", "\"iscrowd\" must be 0 or 1");
    }

    [TestMethod]
    public void InconsistentRecords()
    {
        string unknownImage = GroundTruth(Object.Replace("\"image_id\": 1", "\"image_id\": 5"));
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(unknownImage)), unknownImage, "annotations[0] (id 7)", "image_id 5");
        string duplicate = GroundTruth(Object + ", " + Object);
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(duplicate)), duplicate, "annotations[1] (id 7)", "same id");
    }

    [TestMethod]
    public void SegmentationsThatAreNeitherPolygonsNorRle()
    {
        foreach ((string segmentation, string problem) in new[]
        {
            ("5", "neither a list of polygons nor an RLE object"),
            ("{\"size\": [10, 10]}", "neither a list of polygons nor an RLE object"),
            ("[[0, 0, 4, 0, 4]]", "odd count"),
            ("[[0, 0, 4, 4]]", "at least 3"),
            ("[]", "empty list of polygons"),
            ("[\"0 0 4 0 4 4\"]", "must be a polygon"),
            ("{\"size\": [10, 10], \"counts\": [5, 5]}", "add up to 10, not h·w = 10·10 = 100"),
            ("{\"size\": [10, 10], \"counts\": \"1~\"}", "'~'"),
            ("{\"size\": [10, 10], \"counts\": 12}", "must be a string (compressed) or a list"),
            ("{\"size\": [5, 5], \"counts\": [25]}", "5×5 but image 1 is 10×10"),
        })
        {
            string gt = GroundTruth(Object.Replace("[[0, 0, 4, 0, 4, 4, 0, 4]]", segmentation));
            AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoDataset.Load(gt), segmentation), gt, "annotations[0] (id 7)", problem);
        }
        // Box evaluation needs no segmentation; mask evaluation names the object that lacks one.
        string noSegmentation = GroundTruth(Object[..Object.IndexOf(", \"segmentation\"")] + "}");
        string detections = Write("dt.json", $"[{GoodDetection}]");
        Close.AreEqual(1, CocoEvaluation.Evaluate(noSegmentation, detections, CocoIouType.BoundingBox).AP50, 1e-12, "AP50 without segmentations");
        string masks = Write("masks.json", """[{"image_id": 1, "category_id": 1, "segmentation": {"size": [10, 10], "counts": [0, 100]}, "score": 1}]""");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(noSegmentation, masks, CocoIouType.Segmentation)),
            noSegmentation, "annotations[0] (id 7)", "no \"segmentation\"");
    }

    [TestMethod]
    public void BadDetections()
    {
        string gt = GroundTruth();
        foreach ((string json, string record, string problem) in new[]
        {
            ("[]", null!, "results array is empty"),
            ("{}", null!, "JSON array of detections"),
            ($"[{GoodDetection}, {GoodDetection.Replace("\"image_id\": 1", "\"image_id\": 99")}]", "[1]", "image_id 99 is not in the ground truth"),
            ($"[{GoodDetection.Replace("\"category_id\": 1", "\"category_id\": 3")}]", "[0]", "category_id 3 is not in the ground truth"),
            ($"[{GoodDetection.Replace("\"score\": 0.9", "\"score\": \"high\"")}]", "[0]", "\"score\" must be a finite number"),
            ($"[{GoodDetection}, {GoodDetection.Replace("\"bbox\": [0, 0, 4, 4], ", "")}]", "[1]", "missing \"bbox\""),
            ("""[{"image_id": 1, "category_id": 1, "score": 1}]""", "[0]", "neither \"bbox\" nor \"segmentation\""),
            ("""[{"image_id": 1, "category_id": 1, "segmentation": {"size": [20, 20], "counts": [0, 400]}, "score": 1}]""", "[0]", "20×20 but the image is 10×10"),
            ("""[{"image_id": 1, "category_id": 1, "segmentation": {"size": [10, 10], "counts": "0"}, "score": 1}]""", "[0]", "add up to 0"),
        })
        {
            string dt = Write("dt.json", json);
            AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt, dt, CocoIouType.BoundingBox), json), dt, record, problem);
        }
        string boxesOnly = Write("boxes.json", $"[{GoodDetection}]");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt, boxesOnly, CocoIouType.Segmentation)),
            boxesOnly, "[0]", "no mask");
    }

    [TestMethod]
    public void SkippingCountsAndLogsEachDetection()
    {
        string gt = GroundTruth();
        string dt = Write("dt.json", $"[{GoodDetection}, {GoodDetection.Replace("\"image_id\": 1", "\"image_id\": 99")}, " +
            $"{GoodDetection.Replace("\"category_id\": 1", "\"category_id\": 3")}]");
        var log = new List<string>();
        CocoMetrics m = CocoEvaluation.Evaluate(gt, dt, CocoIouType.BoundingBox, new CocoEvaluationOptions { SkipInvalidDetections = true, Log = log.Add });
        Assert.AreEqual(2, m.SkippedDetections);
        Assert.HasCount(2, log);
        StringAssert.Contains(log[0], "[1]: skipped: image_id 99");
        StringAssert.Contains(log[1], "[2]: skipped: category_id 3");
        Close.AreEqual(1, m.AP50, 1e-12, "the valid detection is evaluated");
        // Class-agnostic evaluation accepts any category id.
        Assert.AreEqual(1, CocoEvaluation.Evaluate(gt, dt, CocoIouType.BoundingBox,
            new CocoEvaluationOptions { ClassAgnostic = true, SkipInvalidDetections = true }).SkippedDetections);
        // Skipping everything leaves nothing to evaluate: an error, not a silent zero.
        string allBad = Write("bad.json", $"[{GoodDetection.Replace("\"image_id\": 1", "\"image_id\": 99")}]");
        AssertNames(Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt, allBad, CocoIouType.BoundingBox,
            new CocoEvaluationOptions { SkipInvalidDetections = true })), allBad, null, "all 1 detections were skipped");
    }

    [TestMethod]
    public void InMemoryDetectionsAreCheckedToo()
    {
        CocoDataset gt = CocoDataset.Load(GroundTruth());
        var e = Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt, [], CocoIouType.BoundingBox));
        StringAssert.Contains(e.Message, "no detections");
        e = Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt,
            [new CocoDetection(1, 1, 0.5, Mask: new RleMask(5, 5, [25]))], CocoIouType.Segmentation));
        Assert.AreEqual("detections[0]", e.Record);
        StringAssert.Contains(e.Message, "the mask is 5×5 but image 1 is 10×10");
        e = Assert.ThrowsExactly<CocoFormatException>(() => CocoEvaluation.Evaluate(gt, [new CocoDetection(1, 1, double.NaN, new CocoBox(0, 0, 1, 1))], CocoIouType.BoundingBox));
        StringAssert.Contains(e.Message, "score NaN");
    }
}
