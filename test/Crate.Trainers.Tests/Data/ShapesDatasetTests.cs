using Crate.Testing;
using Crate.Trainers.Augmentation;
using Crate.Trainers.Data;
using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests.Data;

[TestClass]
public sealed class ShapesDatasetTests
{
    private static readonly ShapesDatasetOptions Defaults = new() { Count = 60, Seed = 11 };

    [TestMethod]
    public void OneSeedOneDatasetAndEachImageStandsAlone()
    {
        ShapesSample[] first = ShapesDataset.Generate(Defaults).ToArray();
        ShapesSample[] again = ShapesDataset.Generate(Defaults).ToArray();
        for (int i = 0; i < first.Length; i++)
        {
            CollectionAssert.AreEqual(first[i].Rgb, again[i].Rgb, $"image {i}");
            CollectionAssert.AreEqual(first[i].Mask, again[i].Mask, $"mask {i}");
        }
        ShapesSample alone = ShapesDataset.Sample(Defaults, 17);
        CollectionAssert.AreEqual(first[17].Rgb, alone.Rgb, "image 17 made alone");
        // Another seed, another image: two independently drawn clutter backgrounds rarely give a pixel the same colour.
        byte[] other = ShapesDataset.Sample(Defaults with { Seed = 12 }, 17).Rgb;
        int agreeing = Enumerable.Range(0, other.Length / 3).Count(p => first[17].Rgb.AsSpan(3 * p, 3).SequenceEqual(other.AsSpan(3 * p, 3)));
        Assert.IsLessThan(other.Length / 3 / 10, agreeing, "pixels of image 17 that another seed leaves unchanged");
    }

    [TestMethod]
    public void ClassesAreBalancedAndNamed()
    {
        CollectionAssert.AreEqual(new[] { "disc-stripes", "disc-dots", "cross-stripes", "cross-dots" }, ShapesDataset.ClassNames(Defaults).ToArray());
        ShapesDatasetOptions six = Defaults with { Shapes = [ShapeFamily.Disc, ShapeFamily.Square, ShapeFamily.Triangle], Textures = [ShapeTexture.Stripes, ShapeTexture.Checker] };
        Assert.AreEqual("triangle-checker", ShapesDataset.ClassNames(six)[5]);
        foreach (int count in new[] { 1, 7, 60, 61 })
        {
            int[] perClass = ShapesDataset.Generate(Defaults with { Count = count }).GroupBy(s => s.ClassIndex).Select(g => g.Count()).ToArray();
            Assert.IsLessThanOrEqualTo(1, perClass.Max() - perClass.Min(), $"count {count}");
        }
        Assert.IsTrue(ShapesDataset.Generate(Defaults).All(s => s.Label == ShapesDataset.ClassNames(Defaults)[s.ClassIndex]));
    }

    [TestMethod]
    public void AnAxisAlignedSquareMaskIsItsAnalyticRectangle()
    {
        // Radius 10 √2 gives a square of half-side 10: pixel centres x + ½ in [20, 40] → x = 20 … 39.
        var geometry = new ObjectGeometry(ShapeFamily.Square, ShapeTexture.Checker, CentreX: 30, CentreY: 25, Radius: 10 * Math.Sqrt(2),
            Angle: 0, Cell: 2, Light: (1, 1, 1), Dark: (0, 0, 0));
        var options = new ShapesDatasetOptions { ImageWidth = 64, ImageHeight = 48 };
        var random = new SplitMix64(1);
        ShapesSample sample = ShapesDataset.Render(options, 0, 0, geometry, ref random);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                Assert.AreEqual(x >= 20 && x <= 39 && y >= 15 && y <= 34, sample.Mask[y * 64 + x], $"pixel ({x}, {y})");
        Assert.AreEqual((20, 15, 20, 20), sample.Box);
    }

    [TestMethod]
    public void ADiscCoversPiRSquaredAndATriangleHoldsItsCentroid()
    {
        var options = new ShapesDatasetOptions { ImageWidth = 96, ImageHeight = 96 };
        var random = new SplitMix64(2);
        var disc = new ObjectGeometry(ShapeFamily.Disc, ShapeTexture.Stripes, 48, 48, 30, 0.3, 3, (1, 0, 0), (0, 0, 0));
        int area = ShapesDataset.Render(options, 0, 0, disc, ref random).Mask.Count(m => m);
        NumericAssert.AreClose(Math.PI * 30 * 30, area, new Tolerance(2 * Math.PI * 30), "area within a perimeter of πr²");
        var triangle = disc with { Shape = ShapeFamily.Triangle, Angle = 0 };
        Assert.IsTrue(triangle.Contains(48, 48), "centroid");
        Assert.IsTrue(triangle.Contains(48, 48 - 29), "near the apex, above the centre (image y points down)");
        Assert.IsFalse(triangle.Contains(48, 48 + 16), "beyond the base at half the radius");
        Assert.IsFalse(triangle.Contains(48 + 20, 48 - 20), "outside a slanted side");
    }

    [TestMethod]
    public void TheObjectPaintsOnlyItsMaskAndOnlyItsTwoColours()
    {
        var options = new ShapesDatasetOptions { ImageWidth = 40, ImageHeight = 40 };
        var geometry = new ObjectGeometry(ShapeFamily.Triangle, ShapeTexture.Stripes, 20, 21, 14, 1.1, 2.5, (0.9f, 0.2f, 0.4f), (0.1f, 0.05f, 0.2f));
        var withObject = new SplitMix64(5);
        ShapesSample sample = ShapesDataset.Render(options, 0, 0, geometry, ref withObject);
        var backgroundOnly = new SplitMix64(5);
        float[] background = Background.Paint(40, 40, ref backgroundOnly);
        byte[] light = [230, 51, 102], dark = [26, 13, 51];
        for (int i = 0; i < 1600; i++)
        {
            byte[] pixel = sample.Rgb.AsSpan(3 * i, 3).ToArray();
            if (sample.Mask[i])
                Assert.IsTrue(pixel.SequenceEqual(light) || pixel.SequenceEqual(dark), $"pixel {i} inside has a foreign colour");
            else
                for (int c = 0; c < 3; c++)
                    Assert.AreEqual((byte)Math.Round(background[3 * i + c] * 255), pixel[c], $"pixel {i} outside was painted over");
        }
    }

    [TestMethod]
    public void ObjectsStayInsideTheImage()
    {
        foreach (ShapesSample sample in ShapesDataset.Generate(Defaults with { Count = 300 }))
        {
            (int x, int y, int w, int h) = sample.Box;
            Assert.IsTrue(w > 0 && h > 0, $"image {sample.Index} has no object");
            // Untouched border rows and columns prove nothing was clipped.
            Assert.IsTrue(x > 0 && y > 0 && x + w < 32 && y + h < 32, $"image {sample.Index}: box {sample.Box} touches the border");
        }
    }

    [TestMethod]
    public void TheDataViewServesTheSameImagesAndMasks()
    {
        var context = new MLContext(seed: 1);
        IDataView view = ShapesDataset.LoadDataView(context, Defaults with { Count = 5 });
        CollectionAssert.AreEqual(new[] { "Image", "Label", "Mask" }, view.Schema.Select(c => c.Name).ToArray());
        Assert.AreEqual(1024, ((VectorDataViewType)view.Schema["Mask"].Type).Size);
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<MLImage> image = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        ValueGetter<VBuffer<bool>> mask = cursor.GetGetter<VBuffer<bool>>(view.Schema["Mask"]);
        ValueGetter<ReadOnlyMemory<char>> label = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["Label"]);
        int row = 0;
        while (cursor.MoveNext())
        {
            ShapesSample expected = ShapesDataset.Sample(Defaults, row);
            MLImage picture = null!;
            image(ref picture);
            byte[] rgba = picture.Pixels.ToArray();
            for (int i = 0; i < 1024; i++)
                Assert.AreEqual(expected.Rgb[3 * i + 1], rgba[4 * i + 1], $"row {row} pixel {i} green");
            VBuffer<bool> m = default;
            mask(ref m);
            CollectionAssert.AreEqual(expected.Mask, m.DenseValues().ToArray());
            ReadOnlyMemory<char> name = default;
            label(ref name);
            Assert.AreEqual(expected.Label, name.ToString());
            row++;
        }
        Assert.AreEqual(5, row);
    }

    [TestMethod]
    public void AFolderDatasetReadsBackExactly()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"crate-shapes-{Guid.NewGuid():N}");
        try
        {
            ShapesDatasetOptions options = Defaults with { Count = 8 };
            string labels = ShapesDataset.WriteFolder(options, directory);
            string[] lines = File.ReadAllLines(labels);
            Assert.AreEqual("ImagePath\tLabel\tMaskPath", lines[0]);
            Assert.HasCount(9, lines);
            for (int i = 0; i < 8; i++)
            {
                string[] fields = lines[i + 1].Split('\t');
                ShapesSample expected = ShapesDataset.Sample(options, i);
                Assert.AreEqual(expected.Label, fields[1]);
                using MLImage image = MLImage.CreateFromFile(Path.Combine(directory, fields[0]));
                using MLImage mask = MLImage.CreateFromFile(Path.Combine(directory, fields[2]));
                byte[] pixels = image.Pixels.ToArray(), maskPixels = mask.Pixels.ToArray();
                bool bgr = image.PixelFormat == MLPixelFormat.Bgra32;
                for (int p = 0; p < 1024; p++)
                {
                    Assert.AreEqual(expected.Rgb[3 * p], pixels[4 * p + (bgr ? 2 : 0)], $"image {i} pixel {p} red");
                    Assert.AreEqual(expected.Mask[p], maskPixels[4 * p + 1] == 255, $"mask {i} pixel {p}");
                }
            }
            // The images folder is a folder per class: the classification reader finds every image under its label.
            IDataView folder = new MLContext().Data.LoadClassificationFolder(Path.Combine(directory, ShapesDataset.ImagesFolder));
            string[] read = folder.GetColumn<ReadOnlyMemory<char>>("ImagePath").Zip(folder.GetColumn<ReadOnlyMemory<char>>("Label"),
                (p, l) => $"{Path.GetFileName(p.ToString())} {l}").Order(StringComparer.Ordinal).ToArray();
            CollectionAssert.AreEqual(Enumerable.Range(0, 8).Select(i => $"{i:D6}.png {ShapesDataset.Sample(options, i).Label}").ToArray(), read);
            var error = Assert.ThrowsExactly<IOException>(() => ShapesDataset.WriteFolder(options, directory));
            StringAssert.Contains(error.Message, directory);
            ShapesDataset.WriteFolder(options, directory, overwrite: true);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void BadOptionsAreNamed()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ShapesDataset.Sample(Defaults with { ImageWidth = 6 }, 0)).Message, "ImageWidth");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ShapesDataset.Generate(Defaults with { Count = -1 }).ToArray()).Message, "Count");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ShapesDataset.ClassNames(Defaults with { Shapes = [] })).Message, "Shapes");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ShapesDataset.ClassNames(Defaults with { Textures = [(ShapeTexture)42] })).Message, "Textures");
    }
}
