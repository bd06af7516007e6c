using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>The COCO instances reader over a tiny tree in the real layout: annotations/instances_tiny.json with a
/// polygon object and a crowd region in compressed RLE, JPEG images, one of them without objects.</summary>
[TestClass]
public sealed class CocoInstancesReaderTests
{
    private const int H = 8, W = 12;

    // Image 5 (a.jpg): a rectangle polygon with corners (1, 1) and (5, 4), category 3, and a crowd region covering
    // the last two columns as compressed RLE: column-major 80 zeros then 16 ones. 80 = 2·32 + 16 → '`' (48 + 16 + 32,
    // "more") then '2'; 16 → '`' (its sign bit 0x10 set, so "more" follows) then '0'. Image 9 (b.jpg) has no objects.
    private const string Annotations = """
        {
          "images": [{"id": 5, "width": 12, "height": 8, "file_name": "a.jpg"}, {"id": 9, "width": 12, "height": 8, "file_name": "b.jpg"}],
          "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
          "annotations": [
            {"id": 21, "image_id": 5, "category_id": 3, "bbox": [1, 1, 4, 3], "area": 12.0, "iscrowd": 0,
             "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]},
            {"id": 22, "image_id": 5, "category_id": 1, "bbox": [10, 0, 2, 8], "area": 16, "iscrowd": 1,
             "segmentation": {"size": [8, 12], "counts": "`2`0"}}
          ]
        }
        """;

    private string root = null!;

    [TestInitialize]
    public void BuildTree()
    {
        root = Directory.CreateTempSubdirectory("coco-tree-").FullName;
        Directory.CreateDirectory(Path.Combine(root, "annotations"));
        Directory.CreateDirectory(Path.Combine(root, "images"));
        File.WriteAllText(Path.Combine(root, "annotations", "instances_tiny.json"), Annotations);
        SaveJpeg("a.jpg", 200, 40, 40);
        SaveJpeg("b.jpg", 30, 30, 220);
    }

    [TestCleanup]
    public void DeleteTree() => Directory.Delete(root, recursive: true);

    private void SaveJpeg(string name, byte r, byte g, byte b)
    {
        var rgba = new byte[H * W * 4];
        for (int p = 0; p < H * W; p++) (rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], rgba[4 * p + 3]) = (r, g, b, 255);
        using MLImage image = MLImage.CreateFromPixels(W, H, MLPixelFormat.Rgba32, rgba);
        image.Save(Path.Combine(root, "images", name));
    }

    private string AnnotationFile => Path.Combine(root, "annotations", "instances_tiny.json");

    private string ImageFolder => Path.Combine(root, "images");

    private static T Read<T>(DataViewRowCursor cursor, string column)
    {
        T value = default!;
        cursor.GetGetter<T>(cursor.Schema[column])(ref value);
        return value;
    }

    [TestMethod]
    public void EveryColumnAsWorkedOutByHand()
    {
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadCocoInstances(AnnotationFile, ImageFolder);
        Assert.AreEqual(2L, data.GetRowCount());
        using DataViewRowCursor cursor = data.GetRowCursor(data.Schema);

        Assert.IsTrue(cursor.MoveNext());
        Assert.AreEqual(5L, Read<long>(cursor, CocoInstances.ImageId));
        Assert.AreEqual(Path.Combine(ImageFolder, "a.jpg"), Read<ReadOnlyMemory<char>>(cursor, CocoInstances.ImagePath).ToString());
        Assert.AreEqual(H, Read<int>(cursor, CocoInstances.Height));
        Assert.AreEqual(W, Read<int>(cursor, CocoInstances.Width));
        Assert.AreEqual(2, Read<int>(cursor, CocoInstances.ObjectCount));
        CollectionAssert.AreEqual(new long[] { 21, 22 }, Read<VBuffer<long>>(cursor, CocoInstances.AnnotationIds).DenseValues().ToArray());
        CollectionAssert.AreEqual(new long[] { 3, 1 }, Read<VBuffer<long>>(cursor, CocoInstances.CategoryIds).DenseValues().ToArray());
        CollectionAssert.AreEqual(new[] { "car", "person" },
            Read<VBuffer<ReadOnlyMemory<char>>>(cursor, CocoInstances.CategoryNames).DenseValues().Select(s => s.ToString()).ToArray());
        CollectionAssert.AreEqual(new double[] { 1, 1, 4, 3, 10, 0, 2, 8 }, Read<VBuffer<double>>(cursor, CocoInstances.Boxes).DenseValues().ToArray());
        CollectionAssert.AreEqual(new double[] { 12, 16 }, Read<VBuffer<double>>(cursor, CocoInstances.Areas).DenseValues().ToArray());
        CollectionAssert.AreEqual(new[] { false, true }, Read<VBuffer<bool>>(cursor, CocoInstances.IsCrowd).DenseValues().ToArray());

        // The polygon covers the pixels whose unit squares lie inside it: columns 1-4, rows 1-3 (12 pixels). The crowd
        // region is columns 10-11, every row.
        bool[] masks = Read<VBuffer<bool>>(cursor, CocoInstances.Masks).DenseValues().ToArray();
        Assert.HasCount(2 * H * W, masks);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                Assert.AreEqual(x is >= 1 and <= 4 && y is >= 1 and <= 3, masks[y * W + x], $"polygon pixel ({x}, {y})");
                Assert.AreEqual(x >= 10, masks[H * W + y * W + x], $"crowd pixel ({x}, {y})");
            }
        string[] segmentations = Read<VBuffer<ReadOnlyMemory<char>>>(cursor, CocoInstances.Segmentations)
            .DenseValues().Select(s => s.ToString()).ToArray();
        Assert.AreEqual("`2`0", segmentations[1], "the crowd's RLE as the file gives it");
        CollectionAssert.AreEqual(masks[..(H * W)], RleMask.FromCompressedString(segmentations[0], H, W).ToPixels().Cells.ToArray());

        using (MLImage image = Read<MLImage>(cursor, CocoInstances.Image))
        {
            Assert.AreEqual(W, image.Width);
            Assert.AreEqual(H, image.Height);
            byte[] pixels = image.GetBGRPixels;
            Assert.AreEqual(200, pixels[2], 12, "red, within JPEG's error");
            Assert.AreEqual(40, pixels[0], 12, "blue");
        }

        Assert.IsTrue(cursor.MoveNext());
        Assert.AreEqual(9L, Read<long>(cursor, CocoInstances.ImageId));
        Assert.AreEqual(0, Read<int>(cursor, CocoInstances.ObjectCount));
        Assert.AreEqual(0, Read<VBuffer<bool>>(cursor, CocoInstances.Masks).Length);
        Assert.AreEqual(0, Read<VBuffer<double>>(cursor, CocoInstances.Boxes).Length);
        Assert.IsFalse(cursor.MoveNext());
    }

    [TestMethod]
    public void ImagesFeedLoadImagesStylePipelines()
    {
        // The Image column is what mlContext.Transforms.LoadImages makes, so image transforms compose after the reader.
        var context = new MLContext(seed: 1);
        IDataView data = context.Data.LoadCocoInstances(CocoDataset.Load(AnnotationFile), ImageFolder);
        IDataView resized = context.Transforms.ResizeImages("Small", 4, 4, CocoInstances.Image).Fit(data).Transform(data);
        Assert.AreEqual(2, resized.GetColumn<MLImage>("Small").Count(i => i.Width == 4 && i.Height == 4));
    }

    [TestMethod]
    public void MissingFolderAndFilesAreNamed()
    {
        var context = new MLContext(seed: 1);
        string noFolder = Path.Combine(root, "nowhere");
        StringAssert.Contains(Assert.ThrowsExactly<DirectoryNotFoundException>(() => context.Data.LoadCocoInstances(AnnotationFile, noFolder)).Message, noFolder);
        string noFile = Path.Combine(root, "annotations", "instances_none.json");
        StringAssert.Contains(Assert.ThrowsExactly<FileNotFoundException>(() => context.Data.LoadCocoInstances(noFile, ImageFolder)).Message, noFile);

        File.Delete(Path.Combine(ImageFolder, "b.jpg"));
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => context.Data.LoadCocoInstances(AnnotationFile, ImageFolder));
        StringAssert.Contains(missing.Message, "images[1] (id 9)");
        StringAssert.Contains(missing.Message, "b.jpg");
        var log = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("Skipped")) log.Add(e.Message); };
        IDataView skipping = context.Data.LoadCocoInstances(AnnotationFile, ImageFolder, new CocoInstancesOptions { SkipInvalidRecords = true });
        CollectionAssert.AreEqual(new long[] { 5 }, skipping.GetColumn<long>(CocoInstances.ImageId).ToArray());
        Assert.AreEqual(1, log.Count(m => m.Contains("b.jpg")), string.Join("\n", log));
    }

    [TestMethod]
    public void ImagesThatDoNotMatchTheirRecordFailWhenRead()
    {
        var context = new MLContext(seed: 1);
        File.WriteAllText(Path.Combine(ImageFolder, "a.jpg"), "not a JPEG");
        IDataView data = context.Data.LoadCocoInstances(AnnotationFile, ImageFolder);
        using (DataViewRowCursor cursor = data.GetRowCursor(data.Schema))
        {
            cursor.MoveNext();
            var e = Assert.ThrowsExactly<InvalidDataException>(() => Read<MLImage>(cursor, CocoInstances.Image));
            StringAssert.Contains(e.Message, "image id 5");
            StringAssert.Contains(e.Message, "a.jpg");
        }
        File.WriteAllText(AnnotationFile, Annotations.Replace("\"id\": 9, \"width\": 12", "\"id\": 9, \"width\": 13"));
        data = context.Data.LoadCocoInstances(AnnotationFile, ImageFolder);
        using (DataViewRowCursor cursor = data.GetRowCursor(data.Schema))
        {
            cursor.MoveNext();
            cursor.MoveNext();
            StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => Read<MLImage>(cursor, CocoInstances.Image)).Message,
                "is 12×8 pixels but the annotation file says 13×8");
        }
        // Skipping reads each row's requested columns first and leaves out the ones that fail.
        IDataView skipping = context.Data.LoadCocoInstances(AnnotationFile, ImageFolder, new CocoInstancesOptions { SkipInvalidRecords = true });
        Assert.IsEmpty(skipping.GetColumn<MLImage>(CocoInstances.Image).ToArray());
        Assert.HasCount(2, skipping.GetColumn<long>(CocoInstances.ImageId).ToArray());
    }
}
