using System.IO.Compression;
using Crate.Trainers.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests.Data;

/// <summary>
/// GarmentScenes on IDX files written byte by byte from the format's definition (big-endian magic 0x803 / 0x801, the
/// sizes, then one byte per value), and its pasting against a case worked out by hand.
/// </summary>
[TestClass]
public sealed class GarmentScenesTests
{
    private string folder = "";

    [TestInitialize]
    public void MakeFolder() => folder = Directory.CreateTempSubdirectory("crate-garments-").FullName;

    [TestCleanup]
    public void RemoveFolder() => Directory.Delete(folder, recursive: true);

    private static byte[] Idx(int magic, int[] shape, byte[] values) =>
    [
        0, 0, (byte)(magic >> 8), (byte)magic,
        .. shape.SelectMany(n => new[] { (byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n }),
        .. values,
    ];

    /// <summary>Two 4×4 photographs: image 0 all white (255), image 1 black (0); labels 8 (bag) and 3 (dress).</summary>
    private void WriteSplit(string split, bool gzip, byte[]? images = null, byte[]? labels = null)
    {
        images ??= Idx(0x803, [2, 4, 4], [.. Enumerable.Repeat((byte)255, 16), .. new byte[16]]);
        labels ??= Idx(0x801, [2], [8, 3]);
        void Write(string name, byte[] bytes)
        {
            if (!gzip)
            {
                File.WriteAllBytes(Path.Combine(folder, name), bytes);
                return;
            }
            using FileStream file = File.Create(Path.Combine(folder, name + ".gz"));
            using var stream = new GZipStream(file, CompressionLevel.Fastest);
            stream.Write(bytes);
        }
        Write($"{split}-images-idx3-ubyte", images);
        Write($"{split}-labels-idx1-ubyte", labels);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void AWhiteSquarePhotographPastesAsAnOpaqueSquareWithItsLabel(bool gzip)
    {
        WriteSplit("train", gzip);
        // 4×4 white scaled to 8×8: pixel x samples the photograph at x/2 − 1/4, so the border pixels mix 3/4 of white
        // with 1/4 of the zero outside (191, corners 143); all are at least OpaqueIntensity (64) and so opaque, and
        // all 64 are in the mask, as a square of side 8 inside the 16-pixel image.
        var options = new GarmentSceneOptions { Folder = folder, Count = 2, ImageSize = 16, GarmentSize = (8, 8), Seed = 5 };
        SceneSample bag = GarmentScenes.Image(options, 0);
        Assert.AreEqual("bag", bag.Label);
        Assert.AreEqual(8, bag.ClassIndex);
        Assert.AreEqual(64, bag.Mask.Count(m => m));
        (int x, int y, int w, int h) = bag.Objects[0].Box;
        Assert.AreEqual((8, 8), (w, h));
        for (int row = 0; row < 16; row++)
            for (int column = 0; column < 16; column++)
            {
                bool inside = column >= x && column < x + 8 && row >= y && row < y + 8;
                Assert.AreEqual(inside, bag.Mask[row * 16 + column], $"pixel ({column}, {row})");
                Assert.AreEqual(inside ? (byte)9 : (byte)0, bag.ClassMask[row * 16 + column]);
            }
        // A black photograph has no garment pixel: nothing is pasted and the mask is empty.
        SceneSample dress = GarmentScenes.Image(options, 1);
        Assert.AreEqual("dress", dress.Label);
        Assert.AreEqual(0, dress.Mask.Count(m => m));
        // The same index and seed give the same image; another seed another one.
        CollectionAssert.AreEqual(bag.Rgb, GarmentScenes.Image(options, 0).Rgb);
        CollectionAssert.AreNotEqual(bag.Rgb, GarmentScenes.Image(options with { Seed = 6 }, 0).Rgb);
    }

    [TestMethod]
    public void TheDataViewHasOneRowPerPhotographWithTheTrainingColumns()
    {
        WriteSplit("t10k", gzip: false);
        var context = new MLContext(seed: 0);
        IDataView view = GarmentScenes.LoadDataView(context, new GarmentSceneOptions { Folder = folder, Split = "t10k", Count = 100, ImageSize = 16, GarmentSize = (8, 8) });
        string[] labels = view.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString()).ToArray();
        CollectionAssert.AreEqual(new[] { "bag", "dress" }, labels);
        Assert.AreEqual(256, ((VectorDataViewType)view.Schema["Mask"].Type).Size);
    }

    [TestMethod]
    public void BadFilesAreRefusedWithTheirNameAndTheProblem()
    {
        var options = new GarmentSceneOptions { Folder = folder, Count = 2, ImageSize = 16, GarmentSize = (8, 8) };
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => GarmentScenes.Image(options, 0));
        StringAssert.Contains(missing.Message, "train-images-idx3-ubyte");

        WriteSplit("train", gzip: false, images: Idx(0x801, [2, 4, 4], new byte[32]));
        var magic = Assert.ThrowsExactly<InvalidDataException>(() => GarmentScenes.Image(options with { Seed = 1 }, 0));
        StringAssert.Contains(magic.Message, "0x00000803");

        WriteSplit("t10k", gzip: false, images: Idx(0x803, [2, 4, 4], new byte[31]));
        var truncated = Assert.ThrowsExactly<InvalidDataException>(() => GarmentScenes.Image(options with { Split = "t10k" }, 0));
        StringAssert.Contains(truncated.Message, "32 values but 31 bytes");

        string other = Directory.CreateDirectory(Path.Combine(folder, "other")).FullName;
        File.WriteAllBytes(Path.Combine(other, "train-images-idx3-ubyte"), Idx(0x803, [2, 4, 4], new byte[32]));
        File.WriteAllBytes(Path.Combine(other, "train-labels-idx1-ubyte"), Idx(0x801, [2], [1, 10]));
        var label = Assert.ThrowsExactly<InvalidDataException>(() => GarmentScenes.Image(options with { Folder = other }, 0));
        StringAssert.Contains(label.Message, "label 10 of record 1");

        File.WriteAllBytes(Path.Combine(other, "t10k-images-idx3-ubyte.gz"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(other, "t10k-labels-idx1-ubyte"), Idx(0x801, [2], [1, 1]));
        var gzip = Assert.ThrowsExactly<InvalidDataException>(() => GarmentScenes.Image(options with { Folder = other, Split = "t10k" }, 0));
        StringAssert.Contains(gzip.Message, "not a valid gzip file");

        string good = Directory.CreateDirectory(Path.Combine(folder, "good")).FullName;
        File.WriteAllBytes(Path.Combine(good, "train-images-idx3-ubyte"), Idx(0x803, [2, 4, 4], new byte[32]));
        File.WriteAllBytes(Path.Combine(good, "train-labels-idx1-ubyte"), Idx(0x801, [2], [1, 9]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GarmentScenes.Image(options with { Folder = good }, 2));
        Assert.ThrowsExactly<ArgumentException>(() => GarmentScenes.Image(options with { GarmentSize = (8, 20) }, 0));
    }
}
