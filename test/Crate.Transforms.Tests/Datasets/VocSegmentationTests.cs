using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>
/// The VOC reader on the committed three-image VOC2012 tree (JPEGs and palette masks written by Pillow); every column
/// checked against the masks the fixture script draws, worked out by hand.
/// </summary>
[TestClass]
public sealed class VocSegmentationTests
{
    private sealed record Row(string Name, int Height, int Width, byte[] Mask, int Count, bool[] InstanceMasks, int[] Classes, float[] Boxes);

    private static List<Row> ReadAll(IDataView view)
    {
        var rows = new List<Row>();
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema.Where(c => c.Name != "Image"));
        ValueGetter<ReadOnlyMemory<char>> name = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["Name"]);
        ValueGetter<int> height = cursor.GetGetter<int>(view.Schema["Height"]), width = cursor.GetGetter<int>(view.Schema["Width"]),
            count = cursor.GetGetter<int>(view.Schema["InstanceCount"]);
        ValueGetter<VBuffer<byte>> mask = cursor.GetGetter<VBuffer<byte>>(view.Schema["Mask"]);
        ValueGetter<VBuffer<bool>> masks = cursor.GetGetter<VBuffer<bool>>(view.Schema["InstanceMasks"]);
        ValueGetter<VBuffer<int>> classes = cursor.GetGetter<VBuffer<int>>(view.Schema["InstanceClasses"]);
        ValueGetter<VBuffer<float>> boxes = cursor.GetGetter<VBuffer<float>>(view.Schema["InstanceBoxes"]);
        while (cursor.MoveNext())
        {
            ReadOnlyMemory<char> n = default;
            int h = 0, w = 0, k = 0;
            VBuffer<byte> m = default;
            VBuffer<bool> im = default;
            VBuffer<int> c = default;
            VBuffer<float> b = default;
            name(ref n); height(ref h); width(ref w); count(ref k); mask(ref m); masks(ref im); classes(ref c); boxes(ref b);
            rows.Add(new Row(n.ToString(), h, w, m.DenseValues().ToArray(), k, im.DenseValues().ToArray(), c.DenseValues().ToArray(), b.DenseValues().ToArray()));
        }
        return rows;
    }

    [TestMethod]
    public void TheValidationSplitReadsEveryColumnInSplitOrder()
    {
        var context = new MLContext(seed: 0);
        IDataView view = context.Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "val");
        CollectionAssert.AreEqual(new[] { "Name", "Image", "Height", "Width", "Mask", "InstanceCount", "InstanceMasks", "InstanceClasses", "InstanceBoxes" },
            view.Schema.Select(c => c.Name).ToArray());
        Assert.AreEqual(2L, view.GetRowCount(), "val.txt lists two ids around a blank line");
        List<Row> rows = ReadAll(view);
        CollectionAssert.AreEqual(new[] { "2007_000002", "2007_000001" }, rows.Select(r => r.Name).ToArray());

        // 2007_000002: two people (objects 1 and 2) left and right of a void column, background below.
        Row people = rows[0];
        Assert.AreEqual((3, 5), (people.Height, people.Width));
        CollectionAssert.AreEqual(new byte[] { 15, 15, 255, 15, 15, 15, 15, 255, 15, 15, 0, 0, 0, 0, 0 }, people.Mask);
        Assert.AreEqual(2, people.Count);
        CollectionAssert.AreEqual(new[] { 15, 15 }, people.Classes);
        CollectionAssert.AreEqual(new float[] { 0, 0, 2, 2, 3, 0, 5, 2 }, people.Boxes);
        bool[] left = [true, true, false, false, false, true, true, false, false, false, false, false, false, false, false];
        bool[] right = [false, false, false, true, true, false, false, false, true, true, false, false, false, false, false];
        CollectionAssert.AreEqual(left.Concat(right).ToArray(), people.InstanceMasks);

        // 2007_000001: a person (object 1: six pixels) and an aeroplane (object 2: the 2×2 block at the bottom left).
        Row mixed = rows[1];
        Assert.AreEqual((4, 6), (mixed.Height, mixed.Width));
        CollectionAssert.AreEqual(new byte[] { 0, 0, 15, 15, 0, 255, 0, 15, 15, 15, 255, 255, 1, 1, 0, 15, 0, 0, 1, 1, 0, 0, 0, 0 }, mixed.Mask);
        Assert.AreEqual(2, mixed.Count);
        CollectionAssert.AreEqual(new[] { 15, 1 }, mixed.Classes);
        // Person pixels (x, y): (2,0) (3,0) (1,1) (2,1) (3,1) (3,2) → left 1, top 0, right 3+1, bottom 2+1.
        CollectionAssert.AreEqual(new float[] { 1, 0, 4, 3, 0, 2, 2, 4 }, mixed.Boxes);
        int[] personPixels = [2, 3, 7, 8, 9, 15], planePixels = [12, 13, 18, 19];
        for (int i = 0; i < 24; i++)
        {
            Assert.AreEqual(personPixels.Contains(i), mixed.InstanceMasks[i], $"person mask at {i}");
            Assert.AreEqual(planePixels.Contains(i), mixed.InstanceMasks[24 + i], $"aeroplane mask at {i}");
        }
    }

    [TestMethod]
    public void AnImageWithoutObjectsHasEmptyInstanceColumns()
    {
        List<Row> rows = ReadAll(new MLContext().Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "train"));
        CollectionAssert.AreEqual(new[] { "2007_000001", "2007_000003" }, rows.Select(r => r.Name).ToArray());
        Row empty = rows[1];
        Assert.AreEqual(0, empty.Count);
        Assert.AreEqual(0, empty.InstanceMasks.Length + empty.Classes.Length + empty.Boxes.Length);
        Assert.AreEqual(255, empty.Mask[0]);
        Assert.AreEqual(15, empty.Mask.Count(v => v == 0));
    }

    [TestMethod]
    public void TheImageColumnDecodesTheJpeg()
    {
        IDataView view = new MLContext().Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "val");
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema["Image"]]);
        ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        (byte R, byte G, byte B)[] colours = [(30, 200, 30), (200, 30, 30)];
        (int W, int H)[] sizes = [(5, 3), (6, 4)];
        for (int row = 0; cursor.MoveNext(); row++)
        {
            MLImage image = null!;
            getImage(ref image);
            using (image)
            {
                Assert.AreEqual(sizes[row], (image.Width, image.Height));
                // A flat JPEG at quality 95 decodes to within a few levels of its colour.
                ReadOnlySpan<byte> p = image.Pixels;
                (int r, int g, int b) = image.PixelFormat == MLPixelFormat.Bgra32 ? (p[2], p[1], p[0]) : (p[0], p[1], p[2]);
                Assert.IsTrue(Math.Abs(r - colours[row].R) <= 6 && Math.Abs(g - colours[row].G) <= 6 && Math.Abs(b - colours[row].B) <= 6,
                    $"row {row}: decoded ({r}, {g}, {b}), drawn {colours[row]}");
            }
        }
    }

    [TestMethod]
    public void NothingIsDecodedUntilACursorReadsTheColumn()
    {
        using ScratchFolder voc = SegmentationFixtures.VocCopy();
        File.WriteAllText(voc.File("SegmentationClass", "2007_000001.png"), "not a png");
        IDataView view = new MLContext().Data.LoadVocSegmentation(voc.Path, "val");
        Assert.AreEqual(2, view.GetColumn<ReadOnlyMemory<char>>("Name").Count(), "reading names leaves the masks alone");
        var error = Assert.ThrowsExactly<InvalidDataException>(() => view.GetColumn<int>("Height").ToArray());
        StringAssert.Contains(error.Message, "record 1 (2007_000001)");
        StringAssert.Contains(error.Message, voc.File("SegmentationClass", "2007_000001.png"));
        StringAssert.Contains(error.Message, "PNG signature");
    }

    [TestMethod]
    public void MissingFoldersAndSplitsAreNamed()
    {
        var data = new MLContext().Data;
        using ScratchFolder voc = SegmentationFixtures.VocCopy();
        var noRoot = Assert.ThrowsExactly<DirectoryNotFoundException>(() => data.LoadVocSegmentation(voc.File("nowhere")));
        StringAssert.Contains(noRoot.Message, voc.File("nowhere"));

        var noSplit = Assert.ThrowsExactly<FileNotFoundException>(() => data.LoadVocSegmentation(voc.Path, "test"));
        StringAssert.Contains(noSplit.Message, voc.File("ImageSets", "Segmentation", "test.txt"));
        StringAssert.Contains(noSplit.Message, "pipeline, train, val");

        var parent = Assert.ThrowsExactly<DirectoryNotFoundException>(() => data.LoadVocSegmentation(SegmentationFixtures.PathOf("voc")));
        StringAssert.Contains(parent.Message, "did you mean");

        Directory.Delete(voc.File("SegmentationObject"), recursive: true);
        var noFolder = Assert.ThrowsExactly<DirectoryNotFoundException>(() => data.LoadVocSegmentation(voc.Path));
        StringAssert.Contains(noFolder.Message, "'SegmentationObject'");
    }

    [TestMethod]
    public void AListedImageWithoutItsFilesIsAnErrorOrACountedLoggedSkip()
    {
        using ScratchFolder voc = SegmentationFixtures.VocCopy();
        string missing = voc.File("JPEGImages", "2007_000002.jpg");
        File.Delete(missing);
        var context = new MLContext();
        var error = Assert.ThrowsExactly<FileNotFoundException>(() => context.Data.LoadVocSegmentation(voc.Path, "val"));
        StringAssert.Contains(error.Message, missing);
        StringAssert.Contains(error.Message, "line 1 (2007_000002)");

        var log = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("Skipped")) log.Add(e.Message); };
        IDataView view = context.Data.LoadVocSegmentation(voc.Path, "val", new VocSegmentationOptions { SkipInvalidRecords = true });
        CollectionAssert.AreEqual(new[] { "2007_000001" }, view.GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray());
        Assert.AreEqual(1, log.Count(m => m.Contains(missing)), string.Join("\n", log));
    }

    [TestMethod]
    public void ClassIdsOutOfRangeAndMismatchedSizesNameTheRecordAndFile()
    {
        using ScratchFolder voc = SegmentationFixtures.VocCopy();
        var context = new MLContext();
        string classMask = voc.File("SegmentationClass", "2007_000001.png");
        File.Copy(SegmentationFixtures.PathOf("voc", "class_id_37.png"), classMask, overwrite: true);
        var badId = Assert.ThrowsExactly<InvalidDataException>(() => context.Data.LoadVocSegmentation(voc.Path, "train").GetColumn<byte[]>("Mask").ToArray());
        StringAssert.Contains(badId.Message, "record 0 (2007_000001)");
        StringAssert.Contains(badId.Message, classMask);
        StringAssert.Contains(badId.Message, "class id 37 at (x 2, y 0)");

        // 2007_000002's object mask (5×3) in place of 2007_000001's (6×4).
        File.Copy(Path.Combine(SegmentationFixtures.VocRoot, "SegmentationClass", "2007_000001.png"), classMask, overwrite: true);
        string objectMask = voc.File("SegmentationObject", "2007_000001.png");
        File.Copy(Path.Combine(SegmentationFixtures.VocRoot, "SegmentationObject", "2007_000002.png"), objectMask, overwrite: true);
        var wrongSize = Assert.ThrowsExactly<InvalidDataException>(() => context.Data.LoadVocSegmentation(voc.Path, "train").GetColumn<int[]>("InstanceClasses").ToArray());
        StringAssert.Contains(wrongSize.Message, objectMask);
        StringAssert.Contains(wrongSize.Message, "5×3");
        StringAssert.Contains(wrongSize.Message, "6×4");

        // An image of the wrong size against its masks.
        File.Copy(Path.Combine(SegmentationFixtures.VocRoot, "SegmentationObject", "2007_000001.png"), objectMask, overwrite: true);
        File.Copy(Path.Combine(SegmentationFixtures.VocRoot, "JPEGImages", "2007_000002.jpg"), voc.File("JPEGImages", "2007_000001.jpg"), overwrite: true);
        IDataView view = context.Data.LoadVocSegmentation(voc.Path, "train");
        var wrongImage = Assert.ThrowsExactly<InvalidDataException>(() =>
        {
            using DataViewRowCursor cursor = view.GetRowCursor([view.Schema["Image"]]);
            ValueGetter<MLImage> get = cursor.GetGetter<MLImage>(view.Schema["Image"]);
            cursor.MoveNext();
            MLImage image = null!;
            get(ref image);
        });
        StringAssert.Contains(wrongImage.Message, "record 0 (2007_000001)");
        StringAssert.Contains(wrongImage.Message, "is 5×3 but its mask");

        // Skipping: the bad row is left out, the good one read, the skip logged.
        var log = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("skipped", StringComparison.OrdinalIgnoreCase)) log.Add(e.Message); };
        IDataView skipping = context.Data.LoadVocSegmentation(voc.Path, "train", new VocSegmentationOptions { SkipInvalidRecords = true });
        Assert.IsNull(skipping.GetRowCount());
        using (DataViewRowCursor cursor = skipping.GetRowCursor([skipping.Schema["Name"], skipping.Schema["Image"]]))
        {
            ValueGetter<ReadOnlyMemory<char>> name = cursor.GetGetter<ReadOnlyMemory<char>>(skipping.Schema["Name"]);
            var names = new List<string>();
            while (cursor.MoveNext())
            {
                ReadOnlyMemory<char> n = default;
                name(ref n);
                names.Add(n.ToString());
            }
            CollectionAssert.AreEqual(new[] { "2007_000003" }, names);
        }
        Assert.IsTrue(log.Any(m => m.Contains("2007_000001") && m.Contains("is 5×3")), string.Join("\n", log));
        Assert.IsTrue(log.Any(m => m.Contains("skipped 1 of 2 records")), string.Join("\n", log));
    }
}
