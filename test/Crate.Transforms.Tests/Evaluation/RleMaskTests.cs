using System.Text.Json;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Evaluation;

[TestClass]
public sealed class RleMaskTests
{
    [TestMethod]
    public void EncodesColumnMajorRunsStartingWithZerosByHand()
    {
        // 2×3, row-major:   0 1 1        column-major: (0,0)=0 (1,0)=1 | (0,1)=1 (1,1)=1 | (0,2)=1 (1,2)=0
        //                   1 1 0        runs: one 0, four 1s, one 0
        RleMask rle = RleMask.FromPixels([false, true, true, true, true, false], 2, 3);
        CollectionAssert.AreEqual(new uint[] { 1, 4, 1 }, rle.Counts.ToArray());
        Assert.AreEqual(4, rle.Area);
        // A mask starting with a 1 has a first run of 0 zeros.
        CollectionAssert.AreEqual(new uint[] { 0, 1, 5 }, RleMask.FromPixels([true, false, false, false, false, false], 2, 3).Counts.ToArray());
        // The 1s span columns 0-2 and rows 0-1: x 0, y 0, w 3, h 2.
        Assert.AreEqual(new CocoBox(0, 0, 3, 2), rle.BoundingBox());
        CollectionAssert.AreEqual(new[] { false, true, true, true, true, false }, rle.ToPixels().Cells.ToArray());
    }

    [TestMethod]
    public void CompressedStringCodeByHand()
    {
        // Counts [1, 4, 1]: each < 16 and positive, so one character each: 48 + c → "141".
        Assert.AreEqual("141", RleMask.FromPixels([false, true, true, true, true, false], 2, 3).ToCompressedString());
        // Counts [2, 40, 35, 3] of an 8×10 mask. 2 → '2' (48 + 2). 40 = 1·32 + 8: low 5 bits 8 with the "more" bit
        // 0x20 → 48 + 40 = 'X', then 1 → '1'. The third count is stored as it is: 35 = 1·32 + 3 → 'S' (48 + 35), '1'.
        // The fourth is stored as its difference to the second: 3 − 40 = −37; −37 & 31 = 27, and −37 >> 5 = −2 ≠ −1,
        // so more follows → 48 + 27 + 32 = 'k'; then −2 & 31 = 30, whose sign bit 0x10 is set and −2 >> 5 = −1: the
        // last character, 48 + 30 = 'N'.
        var rle = new RleMask(8, 10, [2, 40, 35, 3]);
        Assert.AreEqual("2X1S1kN", rle.ToCompressedString());
        CollectionAssert.AreEqual(new uint[] { 2, 40, 35, 3 }, RleMask.FromCompressedString("2X1S1kN", 8, 10).Counts.ToArray());
    }

    [TestMethod]
    public void PolygonsRasteriseAsPycocotools()
    {
        foreach (JsonElement c in CocoFixtures.Get("rle").GetProperty("polygons").EnumerateArray())
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
            double[][] polygons = c.GetProperty("polygons").EnumerateArray().Select(CocoFixtures.Numbers).ToArray();
            string what = $"{h}×{w} polygon {c.GetProperty("polygons")}";
            RleMask rle = RleMask.FromPolygons(polygons, h, w);
            Assert.AreEqual(c.GetProperty("counts").GetString(), rle.ToCompressedString(), what);
            Assert.AreEqual(c.GetProperty("area").GetInt64(), rle.Area, what);
            double[] box = CocoFixtures.Numbers(c.GetProperty("bbox"));
            Assert.AreEqual(new CocoBox(box[0], box[1], box[2], box[3]), rle.BoundingBox(), what);
            CollectionAssert.AreEqual(CocoFixtures.Pixels(c.GetProperty("pixels").GetString()!), rle.ToPixels().Cells.ToArray(), what);
        }
    }

    [TestMethod]
    public void EncodingAndCodecMatchPycocotools()
    {
        foreach (JsonElement c in CocoFixtures.Get("rle").GetProperty("encode").EnumerateArray())
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
            bool[] pixels;
            if (c.TryGetProperty("pixels", out JsonElement bits)) pixels = CocoFixtures.Pixels(bits.GetString()!);
            else
            {
                pixels = new bool[h * w];
                foreach (JsonElement block in c.GetProperty("ones").EnumerateArray())
                {
                    int[] b = block.EnumerateArray().Select(e => e.GetInt32()).ToArray(); // rows [b0, b1), columns [b2, b3)
                    for (int y = b[0]; y < b[1]; y++)
                        for (int x = b[2]; x < b[3]; x++) pixels[y * w + x] = true;
                }
            }
            string what = $"{h}×{w} mask";
            RleMask rle = RleMask.FromPixels(pixels, h, w);
            string counts = c.GetProperty("counts").GetString()!;
            Assert.AreEqual(counts, rle.ToCompressedString(), what);
            Assert.AreEqual(c.GetProperty("area").GetInt64(), rle.Area, what);
            double[] box = CocoFixtures.Numbers(c.GetProperty("bbox"));
            Assert.AreEqual(new CocoBox(box[0], box[1], box[2], box[3]), rle.BoundingBox(), what);
            RleMask decoded = RleMask.FromCompressedString(counts, h, w);
            CollectionAssert.AreEqual(rle.Counts.ToArray(), decoded.Counts.ToArray(), what);
            CollectionAssert.AreEqual(pixels, decoded.ToPixels().Cells.ToArray(), what);
        }
    }

    [TestMethod]
    public void MergeAndOverlapMatchPycocotools()
    {
        JsonElement rle = CocoFixtures.Get("rle");
        foreach (JsonElement c in rle.GetProperty("merge").EnumerateArray())
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
            RleMask[] inputs = c.GetProperty("inputs").EnumerateArray().Select(s => RleMask.FromCompressedString(s.GetString()!, h, w)).ToArray();
            Assert.AreEqual(c.GetProperty("union").GetString(), RleMask.Merge(inputs, intersect: false).ToCompressedString());
            Assert.AreEqual(c.GetProperty("intersection01").GetString(), RleMask.Merge(inputs[..2], intersect: true).ToCompressedString());
        }
        foreach (JsonElement c in rle.GetProperty("iou").EnumerateArray())
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
            RleMask[] d = c.GetProperty("detections").EnumerateArray().Select(s => RleMask.FromCompressedString(s.GetString()!, h, w)).ToArray();
            RleMask[] g = c.GetProperty("groundTruths").EnumerateArray().Select(s => RleMask.FromCompressedString(s.GetString()!, h, w)).ToArray();
            int[] crowd = c.GetProperty("crowd").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            double[][] expected = c.GetProperty("iou").EnumerateArray().Select(CocoFixtures.Numbers).ToArray();
            for (int i = 0; i < d.Length; i++)
                for (int j = 0; j < g.Length; j++)
                    Assert.AreEqual(expected[i][j], RleMask.IntersectionOverUnion(d[i], g[j], crowd[j] == 1), $"mask IoU [{i}, {j}]");
        }
        JsonElement boxes = rle.GetProperty("boxIou");
        CocoBox[] db = boxes.GetProperty("detections").EnumerateArray().Select(ToBox).ToArray();
        CocoBox[] gb = boxes.GetProperty("groundTruths").EnumerateArray().Select(ToBox).ToArray();
        int[] boxCrowd = boxes.GetProperty("crowd").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double[][] boxIou = boxes.GetProperty("iou").EnumerateArray().Select(CocoFixtures.Numbers).ToArray();
        for (int i = 0; i < db.Length; i++)
            for (int j = 0; j < gb.Length; j++)
                Assert.AreEqual(boxIou[i][j], CocoBox.IntersectionOverUnion(db[i], gb[j], boxCrowd[j] == 1), $"box IoU [{i}, {j}]");

        static CocoBox ToBox(JsonElement e)
        {
            double[] b = CocoFixtures.Numbers(e);
            return new CocoBox(b[0], b[1], b[2], b[3]);
        }
    }

    [TestMethod]
    public void OverlapOfHandMadeMasks()
    {
        // 4×4: d = left two columns (8 px), g = top two rows (8 px); they share 4 px. IoU = 4/12; against a crowd g, 4/8.
        var left = new bool[16];
        var top = new bool[16];
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
            {
                left[y * 4 + x] = x < 2;
                top[y * 4 + x] = y < 2;
            }
        RleMask d = RleMask.FromPixels(left, 4, 4), g = RleMask.FromPixels(top, 4, 4);
        Assert.AreEqual(4.0 / 12, RleMask.IntersectionOverUnion(d, g, groundTruthIsCrowd: false));
        Assert.AreEqual(4.0 / 8, RleMask.IntersectionOverUnion(d, g, groundTruthIsCrowd: true));
        Assert.AreEqual(12, RleMask.Merge([d, g], intersect: false).Area);
        Assert.AreEqual(4, RleMask.Merge([d, g], intersect: true).Area);
        // Masks that do not meet overlap 0, also as a crowd.
        RleMask empty = RleMask.FromPixels(new bool[16], 4, 4);
        Assert.AreEqual(0.0, RleMask.IntersectionOverUnion(empty, g, groundTruthIsCrowd: true));
        Assert.AreEqual(new CocoBox(0, 0, 0, 0), empty.BoundingBox());
    }

    [TestMethod]
    public void BinaryMaskRoundTrip()
    {
        var mask = new BinaryMask(3, 5, [true, false, false, true, true, false, false, true, true, false, true, true, true, false, false]);
        CollectionAssert.AreEqual(mask.Cells.ToArray(), RleMask.FromPixels(mask).ToPixels().Cells.ToArray());
        Assert.AreEqual(mask.Area, RleMask.FromPixels(mask).Area);
    }

    [TestMethod]
    public void RejectsCountsThatDoNotFillTheImage()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new RleMask(3, 3, [2, 3]));
        StringAssert.Contains(e.Message, "add up to 5, not h·w = 3·3 = 9");
        Assert.ThrowsExactly<FormatException>(() => RleMask.FromCompressedString("141", 3, 3));
        StringAssert.Contains(Assert.ThrowsExactly<FormatException>(() => RleMask.FromCompressedString("1x1", 2, 3)).Message, "'x'");
        StringAssert.Contains(Assert.ThrowsExactly<FormatException>(() => RleMask.FromCompressedString("1X", 2, 3)).Message, "ends inside");
        Assert.ThrowsExactly<ArgumentException>(() => RleMask.IntersectionOverUnion(new RleMask(2, 3, [6]), new RleMask(3, 2, [6]), false));
    }
}
