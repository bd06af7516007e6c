using Crate.Testing;
using Crate.Transforms.MLNet;
using Crate.Transforms.Visualization;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Visualization;

[TestClass]
public sealed class SegmentationPicturesTests
{
    // An 8×8 mid-grey image.
    private static ImagePixels Grey() => new(8, 8, Enumerable.Repeat(0.5f, 3 * 64).ToArray());

    private static (byte R, byte G, byte B) Pixel(MLImage image, int x, int y) => PicturePixels.At(image, x, y);

    [TestMethod]
    public void PcaMapPaintsEachPatchItsColourAndSurvivesPng()
    {
        // 1×2 grid: left patch pure red, right patch (0, 0.5, 1).
        float[] rgb = [1, 0, 0, 0.5f, 0, 1];
        using MLImage map = SegmentationPictures.PcaMap(rgb, 1, 2, scale: 4);
        Assert.AreEqual(8, map.Width);
        Assert.AreEqual(4, map.Height);
        Assert.AreEqual(((byte)255, (byte)0, (byte)0), Pixel(map, 1, 2));
        Assert.AreEqual(((byte)0, (byte)128, (byte)255), Pixel(map, 6, 1));
        string path = Path.Combine(Path.GetTempPath(), $"crate-pca-{Guid.NewGuid():N}.png");
        try
        {
            map.Save(path);
            using MLImage back = MLImage.CreateFromFile(path);
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 8; x++)
                    Assert.AreEqual(Pixel(map, x, y), Pixel(back, x, y), $"pixel ({x}, {y})");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void MaskOverlayOutlinesTheMaskAndTintsItsInside()
    {
        // A 4×4 block in the middle of the 8×8 image.
        var mask = new bool[64];
        for (int y = 2; y < 6; y++)
            for (int x = 2; x < 6; x++) mask[y * 8 + x] = true;
        using MLImage overlay = SegmentationPictures.MaskOverlay(Grey(), mask, 8, 8, opacity: 0.5f);
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(overlay, 2, 3), "outline in the first palette colour");
        // Inside: half grey (0.5), half (0.9, 0.1, 0.1) → (0.7, 0.3, 0.3).
        Assert.AreEqual(((byte)179, (byte)77, (byte)77), Pixel(overlay, 3, 3));
        Assert.AreEqual(((byte)128, (byte)128, (byte)128), Pixel(overlay, 0, 0), "outside is untouched");
    }

    [TestMethod]
    public void HeatmapBlendsTheHottestPatchYellowAndTheColdestPurple()
    {
        float[] map = [0, 1, 0.5f, 0.5f]; // 2×2 grid
        using MLImage heat = SegmentationPictures.Heatmap(Grey(), map, 2, 2, opacity: 1);
        Assert.AreEqual(((byte)252, (byte)232, (byte)36), Pixel(heat, 6, 1), "top-right patch is the maximum");
        Assert.AreEqual(((byte)69, (byte)0, (byte)84), Pixel(heat, 1, 1), "top-left patch is the minimum");
        using MLImage grid = SegmentationPictures.HeadGrid(Grey(), [.. map, .. map, .. map], 3, 2, 2, columns: 2);
        Assert.AreEqual(2 * 8 + 2, grid.Width);
        Assert.AreEqual(2 * 8 + 2, grid.Height);
        using MLImage large = SegmentationPictures.Heatmap(Grey(), map, 2, 2, opacity: 1, scale: 3);
        Assert.AreEqual(24, large.Width);
        Assert.AreEqual(Pixel(heat, 6, 1), Pixel(large, 6 * 3 + 2, 1 * 3 + 1), "scaling draws each pixel as a block");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => SegmentationPictures.Heatmap(Grey(), map, 3, 2)).Message, "[3, 2]");
    }

    [TestMethod]
    public void LabelledHeadGridNamesTheLayerAndEachHeadAndHasAColourBar()
    {
        float[] map = [0, 1, 0.5f, 0.5f]; // 2×2 grid: the top-right patch hottest, the top-left coldest
        using MLImage sheet = SegmentationPictures.LabelledHeadGrid(Grey(), [.. map, .. map, .. map], 3, 2, 2, layer: 1, columns: 2, opacity: 1, scale: 8);
        // By hand from the documented layout: tiles 64×64 (8×8 at scale 8), t = 1, captions 11 high, two columns 2 apart
        // (130 wide), 4 of white, the bar 6 wide at x 134…139, its labels from x 142 ("HIGH", 4·6 − 1 = 23 wide): 165.
        // Height: the layer's caption, then two rows of caption + tile + gap, less the last gap: 11 + 2·77 − 2 = 163.
        Assert.AreEqual((165, 163), (sheet.Width, sheet.Height));
        (byte, byte, byte) yellow = (252, 232, 36), purple = (69, 0, 84), black = (0, 0, 0), white = (255, 255, 255);
        // Tiles: head 0 at (0, 22), head 1 at (66, 22), head 2 at (0, 99); each map's top-right quadrant is its maximum.
        Assert.AreEqual(yellow, Pixel(sheet, 40, 27), "head 0, top-right");
        Assert.AreEqual(purple, Pixel(sheet, 5, 27), "head 0, top-left");
        Assert.AreEqual(yellow, Pixel(sheet, 66 + 40, 27), "head 1, top-right");
        Assert.AreEqual(yellow, Pixel(sheet, 40, 104), "head 2, top-right");
        // The colour bar spans the tiles' rows (22…162): the maximum's colour at the top, the minimum's at the bottom.
        Assert.AreEqual(yellow, Pixel(sheet, 136, 22), "bar top");
        Assert.AreEqual(purple, Pixel(sheet, 136, 162), "bar bottom");
        // Text in the 5×7 font: "LAYER 1" from (0, 2): L's stem is the first column, rows 2…8.
        for (int y = 2; y <= 8; y++) Assert.AreEqual(black, Pixel(sheet, 0, y), $"L of LAYER, row {y}");
        Assert.AreEqual(white, Pixel(sheet, 0, 1), "above the text");
        // "HEAD k" from (tile left, 13): H's top row is #...#; the digit starts 5·6 = 30 to the right.
        Assert.AreEqual((black, white, black), (Pixel(sheet, 0, 13), Pixel(sheet, 1, 13), Pixel(sheet, 4, 13)), "H of HEAD 0");
        Assert.AreEqual(black, Pixel(sheet, 66, 13), "H of HEAD 1");
        Assert.AreEqual((white, black), (Pixel(sheet, 30, 13), Pixel(sheet, 31, 13)), "0's top row .###.");
        Assert.AreEqual((white, black), (Pixel(sheet, 66 + 31, 13), Pixel(sheet, 66 + 32, 13)), "1's top row ..#..");
        // "HIGH" beside the bar's top, "LOW" beside its bottom (its last row at 162).
        Assert.AreEqual(black, Pixel(sheet, 142, 22), "H of HIGH");
        Assert.AreEqual((black, black, white), (Pixel(sheet, 142, 156), Pixel(sheet, 142, 162), Pixel(sheet, 146, 156)), "L of LOW");
        Assert.AreEqual(white, Pixel(sheet, 150, 80), "background");
    }

    [TestMethod]
    public void BoxesAreDrawnAroundTheirMasks()
    {
        var mask = new bool[64];
        mask[3 * 8 + 4] = true;
        using MLImage picture = SegmentationPictures.MasksWithBoxes(Grey(), [mask], [(1, 1, 6, 5)]);
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(picture, 1, 3), "left edge of the box");
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(picture, 6, 5), "bottom-right corner of the box");
        Assert.AreEqual(((byte)128, (byte)128, (byte)128), Pixel(picture, 3, 3), "inside the box, outside the mask");
        // Scaled by 3: the box (1, 1, 6, 5) covers canvas columns 3…20 and rows 3…17; the one-pixel mask is the 3×3 block
        // at columns 12…14, rows 9…11, outlined at its border and tinted at its centre: 0.55·128/255 + 0.45·(0.9, 0.1, 0.1) → (174, 82, 82).
        using MLImage large = SegmentationPictures.MasksWithBoxes(Grey(), [mask], [(1, 1, 6, 5)], scale: 3);
        Assert.AreEqual(24, large.Width);
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(large, 3, 10), "left edge of the scaled box");
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(large, 20, 17), "bottom-right corner of the scaled box");
        Assert.AreEqual(((byte)128, (byte)128, (byte)128), Pixel(large, 4, 10), "just inside the scaled box");
        Assert.AreEqual(((byte)230, (byte)26, (byte)26), Pixel(large, 12, 9), "the mask block's outline");
        Assert.AreEqual(((byte)174, (byte)82, (byte)82), Pixel(large, 13, 10), "the mask block's tinted centre");
        Assert.AreEqual(((byte)128, (byte)128, (byte)128), Pixel(large, 15, 10), "beside the mask block");
    }
}
