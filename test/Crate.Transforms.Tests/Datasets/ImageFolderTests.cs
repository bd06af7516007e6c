using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>The plain-folder readers on trees assembled from the committed JPEGs and Pillow PNGs.</summary>
[TestClass]
public sealed class ImageFolderTests
{
    private static string Voc(string folder, string file) => Path.Combine(SegmentationFixtures.VocRoot, folder, file);

    /// <summary>images/{a.jpg, b.jpg} and masks/{a.png, b.png} from VOC's 2007_000001 and 2007_000002.</summary>
    private static ScratchFolder SegmentationTree()
    {
        var scratch = SegmentationFixtures.Scratch();
        Directory.CreateDirectory(scratch.File("images"));
        Directory.CreateDirectory(scratch.File("masks"));
        File.Copy(Voc("JPEGImages", "2007_000002.jpg"), scratch.File("images", "b.jpg"));
        File.Copy(Voc("JPEGImages", "2007_000001.jpg"), scratch.File("images", "a.jpg"));
        File.Copy(Voc("SegmentationClass", "2007_000001.png"), scratch.File("masks", "a.png"));
        File.Copy(Voc("SegmentationClass", "2007_000002.png"), scratch.File("masks", "b.png"));
        return scratch;
    }

    [TestMethod]
    public void ImagesAndMasksPairByName()
    {
        using ScratchFolder tree = SegmentationTree();
        IDataView view = new MLContext().Data.LoadSegmentationFolder(tree.Path);
        CollectionAssert.AreEqual(new[] { "Name", "Image", "Height", "Width", "Mask" }, view.Schema.Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "a", "b" }, view.GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray());
        CollectionAssert.AreEqual(new[] { 4, 3 }, view.GetColumn<int>("Height").ToArray());
        CollectionAssert.AreEqual(new[] { 6, 5 }, view.GetColumn<int>("Width").ToArray());
        byte[][] masks = view.GetColumn<byte[]>("Mask").ToArray();
        CollectionAssert.AreEqual(new byte[] { 15, 15, 255, 15, 15, 15, 15, 255, 15, 15, 0, 0, 0, 0, 0 }, masks[1]);
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema["Image"]]);
        ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        Assert.IsTrue(cursor.MoveNext());
        MLImage image = null!;
        getImage(ref image);
        using (image) Assert.AreEqual((6, 4), (image.Width, image.Height));
    }

    [TestMethod]
    public void BinaryMasksBecomeBackgroundAndForeground()
    {
        using ScratchFolder tree = SegmentationTree();
        IDataView view = new MLContext().Data.LoadSegmentationFolder(tree.Path, new ImageFolderSegmentationOptions { MaskEncoding = MaskEncoding.Binary });
        // 2007_000001's classes 0/15/1/255 → 0 stays 0, everything else 1.
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0 },
            view.GetColumn<byte[]>("Mask").First());
    }

    [TestMethod]
    public void BadTreesAreNamed()
    {
        var data = new MLContext().Data;
        using (ScratchFolder tree = SegmentationTree())
        {
            File.Delete(tree.File("masks", "b.png"));
            var error = Assert.ThrowsExactly<FileNotFoundException>(() => data.LoadSegmentationFolder(tree.Path));
            StringAssert.Contains(error.Message, tree.File("images", "b.jpg"));
            StringAssert.Contains(error.Message, tree.File("masks", "b.png"));
            IDataView skipping = data.LoadSegmentationFolder(tree.Path, new ImageFolderSegmentationOptions { SkipInvalidRecords = true });
            CollectionAssert.AreEqual(new[] { "a" }, skipping.GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray());
        }
        using (ScratchFolder tree = SegmentationTree())
        {
            File.Copy(Voc("SegmentationClass", "2007_000003.png"), tree.File("masks", "c.png"));
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => data.LoadSegmentationFolder(tree.Path)).Message, tree.File("masks", "c.png"));
        }
        using (ScratchFolder tree = SegmentationTree())
        {
            File.WriteAllText(tree.File("images", "notes.txt"), "");
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => data.LoadSegmentationFolder(tree.Path)).Message, "notes.txt");
        }
        using (ScratchFolder tree = SegmentationTree())
        {
            Directory.Delete(tree.File("masks"), recursive: true);
            StringAssert.Contains(Assert.ThrowsExactly<DirectoryNotFoundException>(() => data.LoadSegmentationFolder(tree.Path)).Message, "'masks'");
        }
        using (ScratchFolder tree = SegmentationTree())
        {
            // A mask of the wrong size for its image, and an id beyond ClassCount.
            File.Copy(Voc("SegmentationClass", "2007_000003.png"), tree.File("masks", "a.png"), overwrite: true);
            IDataView view = data.LoadSegmentationFolder(tree.Path, new ImageFolderSegmentationOptions { ClassCount = 10 });
            var error = Assert.ThrowsExactly<InvalidDataException>(() => ReadImages(view));
            StringAssert.Contains(error.Message, "record 0 (a)");
            StringAssert.Contains(error.Message, "is 6×4 but its mask");
            var badId = Assert.ThrowsExactly<InvalidDataException>(() => view.GetColumn<byte[]>("Mask").ToArray());
            StringAssert.Contains(badId.Message, "record 1 (b)");
            StringAssert.Contains(badId.Message, "class id 15");
        }
    }

    [TestMethod]
    public void OneFolderPerClassGivesLabelsAndLogsWhatIsNotAnImage()
    {
        using ScratchFolder tree = SegmentationFixtures.Scratch();
        Directory.CreateDirectory(tree.File("dog"));
        Directory.CreateDirectory(tree.File("cat"));
        File.Copy(Voc("JPEGImages", "2007_000001.jpg"), tree.File("dog", "1.jpg"));
        File.Copy(Voc("JPEGImages", "2007_000002.jpg"), tree.File("cat", "2.jpg"));
        File.Copy(SegmentationFixtures.PathOf("png", "pillow_palette8.png"), tree.File("cat", "1.png"));
        File.WriteAllText(tree.File("cat", "readme.txt"), "");
        File.WriteAllText(tree.File("labels.csv"), "");
        var context = new MLContext();
        var log = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("left out")) log.Add(e.Message); };
        IDataView view = context.Data.LoadClassificationFolder(tree.Path);
        CollectionAssert.AreEqual(new[] { "cat", "cat", "dog" }, view.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray());
        CollectionAssert.AreEqual(new[] { tree.File("cat", "1.png"), tree.File("cat", "2.jpg"), tree.File("dog", "1.jpg") },
            view.GetColumn<ReadOnlyMemory<char>>("ImagePath").Select(l => l.ToString()).ToArray());
        Assert.HasCount(1, log);
        StringAssert.Contains(log[0], "2 entries");
        StringAssert.Contains(log[0], Path.Combine("cat", "readme.txt"));
        StringAssert.Contains(log[0], "labels.csv");
        CollectionAssert.AreEqual(new[] { (6, 3), (5, 3), (6, 4) }, ReadImages(view));

        File.WriteAllText(tree.File("dog", "2.jpg"), "not a jpeg");
        var error = Assert.ThrowsExactly<InvalidDataException>(() => ReadImages(context.Data.LoadClassificationFolder(tree.Path)));
        StringAssert.Contains(error.Message, tree.File("dog", "2.jpg"));
        Assert.HasCount(3, ReadImages(context.Data.LoadClassificationFolder(tree.Path, new ImageFolderClassificationOptions { SkipInvalidRecords = true })));
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => context.Data.LoadClassificationFolder(tree.File("nowhere")));
    }

    [TestMethod]
    public void AnImageFolderListsItsImagesAndSubfoldersByRelativeName()
    {
        using ScratchFolder tree = SegmentationFixtures.Scratch();
        Directory.CreateDirectory(tree.File("street", "night"));
        File.Copy(Voc("JPEGImages", "2007_000001.jpg"), tree.File("b.jpg"));
        File.Copy(Voc("JPEGImages", "2007_000002.jpg"), tree.File("street", "a.jpg"));
        File.Copy(SegmentationFixtures.PathOf("png", "pillow_palette8.png"), tree.File("street", "night", "c.png"));
        File.WriteAllText(tree.File("street", "notes.txt"), "");
        var context = new MLContext();
        var log = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("left out")) log.Add(e.Message); };
        IDataView view = context.Data.LoadImageFolder(tree.Path);
        CollectionAssert.AreEqual(new[] { "b", "street/a", "street/night/c" }, view.GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray());
        CollectionAssert.AreEqual(new[] { tree.File("b.jpg"), tree.File("street", "a.jpg"), tree.File("street", "night", "c.png") },
            view.GetColumn<ReadOnlyMemory<char>>("ImagePath").Select(p => p.ToString()).ToArray());
        CollectionAssert.AreEqual(new[] { (6, 4), (5, 3), (6, 3) }, ReadImages(view), "the files' own sizes");
        Assert.HasCount(1, log);
        StringAssert.Contains(log[0], "street/notes.txt");
        CollectionAssert.AreEqual(new[] { "b" }, context.Data.LoadImageFolder(tree.Path, new ImageFolderOptions { Recursive = false })
            .GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray());
        // Shards by FNV-1a-64 of the name mod N, computed for these names by a Python loop of the published algorithm:
        // b → 1, street/a → 1, street/night/c → 0 of 3. Shard 2 is empty, which a reader of one shard must allow.
        string[][] shards = Enumerable.Range(0, 3).Select(i => context.Data.LoadImageFolder(tree.Path, new ImageFolderOptions { Shard = new ShardPartition(i, 3) })
            .GetColumn<ReadOnlyMemory<char>>("Name").Select(n => n.ToString()).ToArray()).ToArray();
        CollectionAssert.AreEqual(new[] { "street/night/c" }, shards[0]);
        CollectionAssert.AreEqual(new[] { "b", "street/a" }, shards[1]);
        Assert.IsEmpty(shards[2]);

        File.WriteAllText(tree.File("street", "d.jpg"), "not a jpeg");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => ReadImages(context.Data.LoadImageFolder(tree.Path))).Message, tree.File("street", "d.jpg"));
        Assert.HasCount(3, ReadImages(context.Data.LoadImageFolder(tree.Path, new ImageFolderOptions { SkipInvalidRecords = true })));
        File.Copy(Voc("JPEGImages", "2007_000001.jpg"), tree.File("b.png"));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => context.Data.LoadImageFolder(tree.Path)).Message, "named 'b'");
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => context.Data.LoadImageFolder(tree.File("nowhere")));
        Directory.CreateDirectory(tree.File("empty"));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => context.Data.LoadImageFolder(tree.File("empty"))).Message, "has no images");
    }

    private static List<(int, int)> ReadImages(IDataView view)
    {
        var sizes = new List<(int, int)>();
        using DataViewRowCursor cursor = view.GetRowCursor([view.Schema["Image"]]);
        ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        while (cursor.MoveNext())
        {
            MLImage image = null!;
            getImage(ref image);
            using (image) sizes.Add((image.Width, image.Height));
        }
        return sizes;
    }
}
