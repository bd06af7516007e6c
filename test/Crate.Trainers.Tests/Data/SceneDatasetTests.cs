using Crate.Trainers.Augmentation;
using Crate.Trainers.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests.Data;

[TestClass]
public sealed class SceneDatasetTests
{
    private static readonly SceneDatasetOptions Defaults = new() { Count = 48, Seed = 5 };

    [TestMethod]
    public void OneSeedOneDatasetAndEachImageStandsAlone()
    {
        SceneSample[] first = SceneDataset.GenerateScenes(Defaults).ToArray();
        SceneSample[] again = SceneDataset.GenerateScenes(Defaults).ToArray();
        for (int i = 0; i < first.Length; i++)
        {
            CollectionAssert.AreEqual(first[i].Rgb, again[i].Rgb, $"scene {i}");
            CollectionAssert.AreEqual(first[i].InstanceMask, again[i].InstanceMask, $"instances {i}");
        }
        CollectionAssert.AreEqual(first[17].Rgb, SceneDataset.Scene(Defaults, 17).Rgb, "scene 17 made alone");
        CollectionAssert.AreEqual(SceneDataset.GenerateTrainingImages(Defaults).ElementAt(9).Rgb, SceneDataset.TrainingImage(Defaults, 9).Rgb,
            "training image 9 made alone");
        CollectionAssert.AreNotEqual(first[17].Rgb, SceneDataset.Scene(Defaults with { Seed = 6 }, 17).Rgb, "another seed");
        CollectionAssert.AreNotEqual(first[17].Rgb, SceneDataset.TrainingImage(Defaults, 17).Rgb, "training images and scenes are drawn apart");
    }

    [TestMethod]
    public void EightBalancedClassesOfOneObjectEachForTraining()
    {
        IReadOnlyList<string> names = SceneDataset.ClassNames(Defaults);
        CollectionAssert.AreEqual(new[] { "disc-stripes", "disc-dots", "square-stripes", "square-dots", "triangle-stripes", "triangle-dots",
            "cross-stripes", "cross-dots" }, names.ToArray());
        Assert.AreEqual("square-checker", SceneDataset.ClassNames(Defaults with { Textures = [ShapeTexture.Stripes, ShapeTexture.Checker, ShapeTexture.Dots] })[4]);
        SceneSample[] images = SceneDataset.GenerateTrainingImages(Defaults).ToArray();
        foreach (SceneSample image in images)
        {
            Assert.HasCount(1, image.Objects, $"image {image.Index}");
            Assert.AreEqual(image.Index % 8, image.ClassIndex, $"image {image.Index}: class = index mod 8");
            Assert.AreEqual(names[image.ClassIndex], image.Label);
            (int x, int y, int w, int h) = image.Objects[0].Box;
            // Untouched border rows and columns prove nothing was clipped.
            Assert.IsTrue(x > 0 && y > 0 && x + w < 48 && y + h < 48, $"image {image.Index}: box {image.Objects[0].Box} touches the border");
            Assert.AreEqual(image.Objects[0].FullArea, image.Objects[0].Area, "a lone object is wholly visible");
        }
    }

    [TestMethod]
    public void AnOccludedSquareKeepsItsAnalyticRectangleMinusTheOccluder()
    {
        // Square half-side = radius / √2. A: half-side 8 about (20.2, 20.3): pixel centres x + ½ in [12.2, 28.2] → x = 12 … 27,
        // likewise y = 12 … 27. B on top: half-side 6 about (30.1, 26.4) → x = 24 … 35, y = 20 … 31. A loses x 24 … 27, y 20 … 27.
        var a = new ObjectGeometry(ShapeFamily.Square, ShapeTexture.Checker, 20.2, 20.3, 8 * Math.Sqrt(2), 0, 4, (1, 1, 1), (0.25f, 0.25f, 0.25f));
        var b = new ObjectGeometry(ShapeFamily.Square, ShapeTexture.Stripes, 30.1, 26.4, 6 * Math.Sqrt(2), 0, 4, (1, 0, 0), (0.25f, 0, 0));
        SplitMix64 painting = new(3);
        SceneDatasetOptions threeTextures = Defaults with { Textures = [ShapeTexture.Stripes, ShapeTexture.Checker, ShapeTexture.Dots] };
        SceneSample scene = SceneDataset.Render(threeTextures, 0, [(4, a), (3, b)], ref painting);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 48; x++)
            {
                bool inB = x is >= 24 and <= 35 && y is >= 20 and <= 31;
                bool inA = x is >= 12 and <= 27 && y is >= 12 and <= 27 && !inB;
                Assert.AreEqual(inA ? 1 : inB ? 2 : 0, scene.InstanceMask[y * 48 + x], $"instance at ({x}, {y})");
                Assert.AreEqual(inA ? 5 : inB ? 4 : 0, scene.ClassMask[y * 48 + x], $"class id at ({x}, {y})");
            }
        Assert.AreEqual(new SceneObject(4, "square-checker", (12, 12, 16, 16), 256 - 32, 256), scene.Objects[0]);
        Assert.AreEqual(new SceneObject(3, "square-stripes", (24, 20, 12, 12), 144, 144), scene.Objects[1]);
        CollectionAssert.AreEqual(scene.InstanceMask.Select(i => i == 2).ToArray(), scene.InstanceMaskOf(1));
    }

    [TestMethod]
    public void ScenesReRenderFromTheirObjects()
    {
        // Oracle: the objects' own outline tests, applied in painting order, and the same painting stream without objects.
        for (int index = 0; index < 24; index++)
        {
            IReadOnlyList<(int ClassIndex, ObjectGeometry Geometry)> objects = SceneDataset.Objects(Defaults, index, scene: true);
            SceneSample scene = SceneDataset.Scene(Defaults, index);
            SplitMix64 painting = SceneDataset.PaintingStream(Defaults, index, scene: true);
            SceneSample background = SceneDataset.Render(Defaults, index, [], ref painting);
            Assert.HasCount(objects.Count, scene.Objects);
            var fullAreas = new int[objects.Count];
            for (int y = 0; y < 48; y++)
                for (int x = 0; x < 48; x++)
                {
                    int i = y * 48 + x, owner = 0;
                    for (int k = 0; k < objects.Count; k++)
                        if (objects[k].Geometry.Contains(x + 0.5, y + 0.5))
                        {
                            owner = k + 1;
                            fullAreas[k]++;
                        }
                    Assert.AreEqual(owner, scene.InstanceMask[i], $"scene {index}: owner of ({x}, {y})");
                    Assert.AreEqual(owner == 0 ? 0 : objects[owner - 1].ClassIndex + 1, scene.ClassMask[i], $"scene {index}: class at ({x}, {y})");
                    if (owner == 0)
                    {
                        CollectionAssert.AreEqual(background.Rgb.AsSpan(3 * i, 3).ToArray(), scene.Rgb.AsSpan(3 * i, 3).ToArray(),
                            $"scene {index}: background pixel ({x}, {y}) was painted over");
                        continue;
                    }
                    // An object pixel is one of its two colours plus the pixel noise (±0.03 → ±7.65 levels, and ½ for rounding).
                    ObjectGeometry g = objects[owner - 1].Geometry;
                    bool NearColour((float R, float G, float B) c) =>
                        Math.Abs(scene.Rgb[3 * i] - 255 * c.R) <= 8.2 && Math.Abs(scene.Rgb[3 * i + 1] - 255 * c.G) <= 8.2 && Math.Abs(scene.Rgb[3 * i + 2] - 255 * c.B) <= 8.2;
                    Assert.IsTrue(NearColour(g.Light) || NearColour(g.Dark), $"scene {index}: pixel ({x}, {y}) is not its object's colour");
                }
            for (int k = 0; k < objects.Count; k++)
            {
                SceneObject o = scene.Objects[k];
                Assert.AreEqual(fullAreas[k], o.FullArea, $"scene {index} object {k}: full area");
                Assert.AreEqual(scene.InstanceMask.Count(id => id == k + 1), o.Area, $"scene {index} object {k}: visible area");
                Assert.IsGreaterThanOrEqualTo(Defaults.MinVisibleFraction * o.FullArea, o.Area, $"scene {index} object {k}: hidden beyond the limit");
                Assert.AreEqual(SceneDataset.ClassNames(Defaults)[o.ClassIndex], o.Label);
            }
        }
    }

    [TestMethod]
    public void ScenesHoldOneToFourObjects()
    {
        int[] counts = SceneDataset.GenerateScenes(Defaults with { Count = 200 }).Select(s => s.Objects.Count).ToArray();
        CollectionAssert.AreEquivalent(new[] { 1, 2, 3, 4 }, counts.Distinct().ToArray());
        int[] exactlyTwo = SceneDataset.GenerateScenes(Defaults with { Count = 50, ObjectsPerScene = (2, 2) }).Select(s => s.Objects.Count).ToArray();
        Assert.IsTrue(exactlyTwo.All(c => c == 2), "two small objects always find room in 48×48");
    }

    [TestMethod]
    public void TheSceneViewServesEveryAnnotation()
    {
        var context = new MLContext(seed: 1);
        SceneDatasetOptions options = Defaults with { Count = 6 };
        IDataView view = SceneDataset.LoadSceneDataView(context, options);
        CollectionAssert.AreEqual(new[] { "Image", "ClassMask", "InstanceMask", "Labels", "Box", "InstanceCount" }, view.Schema.Select(c => c.Name).ToArray());
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Byte, 48 * 48), view.Schema["ClassMask"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Byte, 48 * 48), view.Schema["InstanceMask"].Type);
        Assert.AreEqual(new VectorDataViewType(TextDataViewType.Instance), view.Schema["Labels"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), view.Schema["Box"].Type);
        Assert.AreEqual(NumberDataViewType.Int32, view.Schema["InstanceCount"].Type);
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<MLImage> image = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        ValueGetter<VBuffer<byte>> classes = cursor.GetGetter<VBuffer<byte>>(view.Schema["ClassMask"]);
        ValueGetter<VBuffer<byte>> instances = cursor.GetGetter<VBuffer<byte>>(view.Schema["InstanceMask"]);
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> labels = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema["Labels"]);
        ValueGetter<VBuffer<float>> boxes = cursor.GetGetter<VBuffer<float>>(view.Schema["Box"]);
        ValueGetter<int> count = cursor.GetGetter<int>(view.Schema["InstanceCount"]);
        int row = 0;
        while (cursor.MoveNext())
        {
            SceneSample expected = SceneDataset.Scene(options, row);
            MLImage picture = null!;
            image(ref picture);
            byte[] rgba = picture.Pixels.ToArray();
            for (int i = 0; i < 48 * 48; i++)
                Assert.AreEqual(expected.Rgb[3 * i + 2], rgba[4 * i + 2], $"row {row} pixel {i} blue");
            VBuffer<byte> c = default, m = default;
            classes(ref c);
            instances(ref m);
            CollectionAssert.AreEqual(expected.ClassMask, c.DenseValues().ToArray());
            CollectionAssert.AreEqual(expected.InstanceMask, m.DenseValues().ToArray());
            VBuffer<ReadOnlyMemory<char>> names = default;
            labels(ref names);
            CollectionAssert.AreEqual(expected.Objects.Select(o => o.Label).ToArray(), names.DenseValues().Select(n => n.ToString()).ToArray());
            VBuffer<float> b = default;
            boxes(ref b);
            float[] corners = b.DenseValues().ToArray();
            Assert.HasCount(4 * expected.Objects.Count, corners);
            for (int k = 0; k < expected.Objects.Count; k++)
            {
                // x0, y0, x1, y1 with the far corner exclusive: the columns and rows of the object's visible pixels span [x0, x1) and [y0, y1).
                int[] xs = Enumerable.Range(0, 48 * 48).Where(i => expected.InstanceMask[i] == k + 1).Select(i => i % 48).ToArray();
                int[] ys = Enumerable.Range(0, 48 * 48).Where(i => expected.InstanceMask[i] == k + 1).Select(i => i / 48).ToArray();
                CollectionAssert.AreEqual(new float[] { xs.Min(), ys.Min(), xs.Max() + 1, ys.Max() + 1 }, corners[(4 * k)..(4 * k + 4)], $"row {row} box {k}");
            }
            int n = 0;
            count(ref n);
            Assert.AreEqual(expected.Objects.Count, n);
            row++;
        }
        Assert.AreEqual(6, row);
    }

    [TestMethod]
    public void TheTrainingViewHasTheShapesDatasetsColumns()
    {
        var context = new MLContext(seed: 1);
        SceneDatasetOptions options = Defaults with { Count = 4 };
        IDataView view = SceneDataset.LoadTrainingDataView(context, options);
        CollectionAssert.AreEqual(new[] { "Image", "Label", "Mask" }, view.Schema.Select(c => c.Name).ToArray());
        string[] labels = view.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
        bool[][] masks = view.GetColumn<bool[]>("Mask").ToArray();
        for (int i = 0; i < 4; i++)
        {
            SceneSample expected = SceneDataset.TrainingImage(options, i);
            Assert.AreEqual(expected.Label, labels[i]);
            CollectionAssert.AreEqual(expected.InstanceMask.Select(id => id == 1).ToArray(), masks[i]);
        }
    }

    [TestMethod]
    public void PixelNoiseChangesEveryChannelByAtMostItsAmplitude()
    {
        // The noise is the last layer painted and draws the same numbers whatever its amplitude a (a·(2u − 1)), so an
        // image at a = 0.3 differs from the same image at a = 0 by at most 0.3·255 ≈ 77 levels (clamping only shrinks
        // it), and, over 48·48·3 draws, somewhere by more than half of that.
        byte[] quiet = SceneDataset.TrainingImage(Defaults with { PixelNoise = 0 }, 4).Rgb;
        byte[] noisy = SceneDataset.TrainingImage(Defaults with { PixelNoise = 0.3 }, 4).Rgb;
        int[] change = quiet.Zip(noisy, (a, b) => Math.Abs(a - b)).ToArray();
        Assert.IsLessThanOrEqualTo(77, change.Max());
        Assert.IsGreaterThan(38, change.Max());
        CollectionAssert.AreEqual(SceneDataset.TrainingImage(Defaults with { PixelNoise = 0 }, 4).Mask, SceneDataset.TrainingImage(Defaults, 4).Mask);
    }

    [TestMethod]
    public void BadOptionsAreNamed()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.Scene(Defaults with { ObjectRadius = (7, 30) }, 0)).Message, "ObjectRadius");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.Scene(Defaults with { ObjectsPerScene = (0, 2) }, 0)).Message, "ObjectsPerScene");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.TrainingImage(Defaults with { TextureCell = 1 }, 0)).Message, "TextureCell");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.TrainingImage(Defaults with { PixelNoise = -0.1 }, 0)).Message, "PixelNoise");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.GenerateScenes(Defaults with { Count = -1 })).Message, "Count");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SceneDataset.ClassNames(Defaults with { Textures = [] })).Message, "Textures");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SceneDataset.Scene(Defaults, -1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SceneDataset.Scene(Defaults, 0).InstanceMaskOf(7));
    }
}
