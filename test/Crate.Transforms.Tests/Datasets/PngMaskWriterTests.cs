using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>Masks to PNG files: names, sizes, resampling from the patch grid, palette; read back by SkiaSharp and by our reader.</summary>
[TestClass]
public sealed class PngMaskWriterTests
{
    private sealed class GridRow
    {
        public string Name { get; set; } = "";

        /// <summary>A CrateSegment-like foreground mask on a 2×3 patch grid.</summary>
        [VectorType(2, 3)]
        public bool[] PredictedMask { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }
    }

    [TestMethod]
    public void GridMasksAreWrittenAtEachImagesSize()
    {
        var context = new MLContext();
        IDataView data = context.Data.LoadFromEnumerable(new[]
        {
            new GridRow { Name = "first", PredictedMask = [true, false, false, false, false, true], Height = 4, Width = 6 },
            new GridRow { Name = "second", PredictedMask = [false, true, false, true, true, true], Height = 2, Width = 3 },
        });
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        IReadOnlyList<string> paths = context.Data.SaveAsPngMasks(data, scratch.Path, options: new PngMaskWriterOptions { ForegroundValue = 15 });
        CollectionAssert.AreEqual(new[] { scratch.File("first.png"), scratch.File("second.png") }, paths.ToArray());

        // 4×6 from 2×3: pixel (y, x) reads cell (⌊(y + ½)·2/4⌋, ⌊(x + ½)·3/6⌋) = (y / 2, x / 2), so each cell is a 2×2 block.
        byte[] first =
        [
            15, 15, 0, 0, 0, 0,
            15, 15, 0, 0, 0, 0,
            0, 0, 0, 0, 15, 15,
            0, 0, 0, 0, 15, 15,
        ];
        LabelMap written = PngLabelMap.Read(paths[0]);
        Assert.AreEqual((4, 6), (written.Height, written.Width));
        CollectionAssert.AreEqual(first, written.Values);
        CollectionAssert.AreEqual(new byte[] { 0, 15, 0, 15, 15, 15 }, PngLabelMap.Read(paths[1]).Values);
        // SkiaSharp sees VOC's person colour where the mask is set.
        using MLImage image = MLImage.CreateFromFile(paths[0]);
        ReadOnlySpan<byte> p = image.Pixels;
        Assert.AreEqual((192, 128, 128), image.PixelFormat == MLPixelFormat.Bgra32 ? (p[2], p[1], p[0]) : (p[0], p[1], p[2]));
    }

    private sealed class ClassRow
    {
        [VectorType(2, 2)]
        public int[] PredictedMask { get; set; } = [];
    }

    [TestMethod]
    public void WithoutNamesOrSizesFilesAreNumberedAtTheMasksShape()
    {
        var context = new MLContext();
        IDataView data = context.Data.LoadFromEnumerable(new[] { new ClassRow { PredictedMask = [0, 1, 20, 255] }, new ClassRow { PredictedMask = [3, 3, 3, 3] } });
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        IReadOnlyList<string> paths = context.Data.SaveAsPngMasks(data, scratch.Path, nameColumnName: null, options: new PngMaskWriterOptions { Palette = null });
        CollectionAssert.AreEqual(new[] { scratch.File("000000.png"), scratch.File("000001.png") }, paths.ToArray());
        CollectionAssert.AreEqual(new byte[] { 0, 1, 20, 255 }, PngLabelMap.Read(paths[0]).Values);

        var exists = Assert.ThrowsExactly<IOException>(() => context.Data.SaveAsPngMasks(data, scratch.Path, nameColumnName: null));
        StringAssert.Contains(exists.Message, scratch.File("000000.png"));
        context.Data.SaveAsPngMasks(data, scratch.Path, nameColumnName: null, options: new PngMaskWriterOptions { Overwrite = true });

        IDataView tooLarge = context.Data.LoadFromEnumerable(new[] { new ClassRow { PredictedMask = [0, 1, 256, 0] } });
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() =>
            context.Data.SaveAsPngMasks(tooLarge, scratch.File("big"), nameColumnName: null)).Message, "value 256");
    }

    [TestMethod]
    public void DuplicateNamesAreRefused()
    {
        var context = new MLContext();
        IDataView data = context.Data.LoadFromEnumerable(new[]
        {
            new GridRow { Name = "same", PredictedMask = new bool[6], Height = 2, Width = 3 },
            new GridRow { Name = "same", PredictedMask = new bool[6], Height = 2, Width = 3 },
        });
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        var error = Assert.ThrowsExactly<InvalidDataException>(() => context.Data.SaveAsPngMasks(data, scratch.Path));
        StringAssert.Contains(error.Message, "row 1 (same)");
    }
}
