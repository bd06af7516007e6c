using Crate.Trainers.Data;
using Crate.Transforms.Evaluation;

namespace Crate.Trainers.Tests.Data;

/// <summary>COCO ground truth made from a scene's instance masks, against boxes, areas and run lengths worked out by hand.</summary>
[TestClass]
public sealed class SceneCocoTests
{
    // A 5×4 scene (index 7): object 0 (class 3) covers columns 1–2 of rows 0–1; object 1 (class 0) covers (3, 2) and
    // column 4 of rows 1–3; object 2 (class 1) is wholly hidden.
    private static readonly byte[] Instances =
    [
        0, 1, 1, 0, 0,
        0, 1, 1, 0, 2,
        0, 0, 0, 2, 2,
        0, 0, 0, 0, 2,
    ];

    private static SceneSample Scene() => new(7, 5, 4, new byte[3 * 20], Array.ConvertAll(Instances, i => i switch { 1 => (byte)4, 2 => (byte)1, _ => (byte)0 }),
        Instances,
        [
            new SceneObject(3, "c3", (1, 0, 2, 2), 4, 4),
            new SceneObject(0, "c0", (3, 1, 2, 3), 4, 6),
            new SceneObject(1, "c1", (0, 0, 0, 0), 0, 5),
        ]);

    [TestMethod]
    public void ImagesAnnotationsAndCategoriesAsWorkedOutByHand()
    {
        CocoDataset truth = SceneCoco.GroundTruth([Scene()], ["c0", "c1", "c2", "c3"]);

        CocoImage image = truth.Images.Single();
        Assert.AreEqual(new CocoImage(8, 5, 4, "scene-000007.png"), image);
        CollectionAssert.AreEqual(new long[] { 1, 2, 3, 4 }, truth.Categories.Select(c => c.Id).ToArray());
        CollectionAssert.AreEqual(new[] { "c0", "c1", "c2", "c3" }, truth.Categories.Select(c => c.Name).ToArray());

        // The hidden object has nothing to find and is left out.
        Assert.HasCount(2, truth.Annotations);
        CocoAnnotation first = truth.Annotations[0], second = truth.Annotations[1];
        Assert.AreEqual((1L, 8L, 4L, false), (first.Id, first.ImageId, first.CategoryId, first.IsCrowd));
        Assert.AreEqual((2L, 8L, 1L, false), (second.Id, second.ImageId, second.CategoryId, second.IsCrowd));
        Assert.AreEqual(new CocoBox(1, 0, 2, 2), first.Box);
        Assert.AreEqual(new CocoBox(3, 1, 2, 3), second.Box);
        Assert.AreEqual(4.0, first.Area);
        Assert.AreEqual(4.0, second.Area);

        // COCO's RLE runs column-major, starting with a run of zeros. Object 0: column 0 (4 zeros), column 1 (2 ones,
        // 2 zeros), column 2 (2 ones, then 2 + 4 + 4 zeros). Object 1: columns 0–2 and the top two cells of column 3
        // (14 zeros), (3, 2) (1 one), (3, 3) and (4, 0) (2 zeros), column 4's rows 1–3 (3 ones).
        CollectionAssert.AreEqual(new uint[] { 4, 2, 2, 2, 10 }, first.Segmentation!.Rle!.Counts.ToArray());
        CollectionAssert.AreEqual(new uint[] { 14, 1, 2, 3 }, second.Segmentation!.Rle!.Counts.ToArray());
    }

    [TestMethod]
    public void GeneratedScenesGiveOneAnnotationPerVisibleObjectWithItsMask()
    {
        var options = new SceneDatasetOptions { Count = 5, Seed = 4 };
        SceneSample[] scenes = SceneDataset.GenerateScenes(options).ToArray();
        CocoDataset truth = SceneCoco.GroundTruth(scenes, SceneDataset.ClassNames(options));
        Assert.HasCount(scenes.Sum(s => s.Objects.Count(o => o.Area > 0)), truth.Annotations);
        int next = 0;
        foreach (SceneSample scene in scenes)
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                if (scene.Objects[k].Area == 0) continue;
                CocoAnnotation annotation = truth.Annotations[next++];
                // The RLE decodes to exactly the instance's pixels, and box and area are the scene's own annotations.
                CollectionAssert.AreEqual(scene.InstanceMaskOf(k), annotation.Segmentation!.Rle!.ToPixels().Cells.ToArray());
                (int x, int y, int w, int h) = scene.Objects[k].Box;
                Assert.AreEqual(new CocoBox(x, y, w, h), annotation.Box);
                Assert.AreEqual((double)scene.Objects[k].Area, annotation.Area);
                Assert.AreEqual(scene.Objects[k].ClassIndex + 1L, annotation.CategoryId);
                Assert.AreEqual(SceneCoco.ImageId(scene.Index), annotation.ImageId);
            }
    }

    [TestMethod]
    public void AClassWithoutANameIsAnError()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => SceneCoco.GroundTruth([Scene()], ["c0", "c1"]));
        StringAssert.Contains(error.Message, "Scene 7, object 0: class 3");
    }
}
