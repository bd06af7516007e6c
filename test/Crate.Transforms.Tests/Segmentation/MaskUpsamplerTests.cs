using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>Nearest-neighbour upsampling with earlier masks subtracted; boxes checked by scanning the pixels.</summary>
[TestClass]
public sealed class MaskUpsamplerTests
{
    /// <summary>Four masks on a 5×7 grid: the first two overlap, the third lies inside them, the fourth is one corner patch.</summary>
    private static readonly BinaryMask[] Overlapping =
    [
        Grid(5, 7, (r, c) => r <= 2 && c <= 3),
        Grid(5, 7, (r, c) => r >= 1 && c >= 2 && c <= 5),
        Grid(5, 7, (r, c) => r is 1 or 2 && c is 2 or 3),
        Grid(5, 7, (r, c) => r == 4 && c == 6),
    ];

    [TestMethod]
    public void PatchesBecomeBlocksWhenTheImageIsAMultiple()
    {
        const int patch = 8;
        IReadOnlyList<UpsampledMask> masks = MaskUpsampler.Upsample(Overlapping, 5 * patch, 7 * patch);
        // The third mask is covered by the first two and vanishes.
        CollectionAssert.AreEqual(new[] { 0, 1, 3 }, masks.Select(m => m.Source).ToArray());
        var owner = new int[5, 7];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 7; c++)
                owner[r, c] = Array.FindIndex(Overlapping, m => m[r, c]);
        foreach (UpsampledMask mask in masks)
            for (int y = 0; y < 5 * patch; y++)
                for (int x = 0; x < 7 * patch; x++)
                    Assert.AreEqual(owner[y / patch, x / patch] == mask.Source, mask.Mask[y, x], $"mask {mask.Source} at ({y}, {x})");
        Assert.AreEqual(new MaskBox(0, 0, 4 * patch, 3 * patch), masks[0].Box);
        Assert.AreEqual(new MaskBox(6 * patch, 4 * patch, patch, patch), masks[2].Box);
    }

    [TestMethod]
    [DataRow(5, 7)]
    [DataRow(23, 31)]
    [DataRow(37, 19)]
    [DataRow(3, 4)]
    public void MasksNeverOverlapAndBoxesAreTight(int height, int width)
    {
        IReadOnlyList<UpsampledMask> masks = MaskUpsampler.Upsample(Overlapping, height, width);
        var covered = new bool[height, width];
        foreach (UpsampledMask mask in masks)
        {
            int top = height, bottom = -1, left = width, right = -1;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    if (!mask.Mask[y, x]) continue;
                    Assert.IsFalse(covered[y, x], $"pixel ({y}, {x}) in two masks");
                    covered[y, x] = true;
                    (top, bottom, left, right) = (Math.Min(top, y), Math.Max(bottom, y), Math.Min(left, x), Math.Max(right, x));
                }
            Assert.AreEqual(new MaskBox(left, top, right - left + 1, bottom - top + 1), mask.Box, $"box of mask {mask.Source}");
        }
        // Every pixel whose centre falls in a patch of some grid mask is covered by exactly one upsampled mask.
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int row = (int)((y + 0.5) * 5 / height), column = (int)((x + 0.5) * 7 / width);
                Assert.AreEqual(Overlapping.Any(m => m[row, column]), covered[y, x], $"pixel ({y}, {x})");
            }
    }

    [TestMethod]
    public void EmptyListGivesNoMasks()
    {
        Assert.IsEmpty(MaskUpsampler.Upsample([], 10, 10));
    }

    private static BinaryMask Grid(int height, int width, Func<int, int, bool> predicate) =>
        new(height, width, Enumerable.Range(0, height * width).Select(i => predicate(i / width, i % width)).ToArray());
}
