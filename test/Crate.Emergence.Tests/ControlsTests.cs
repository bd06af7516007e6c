using Crate.Emergence;
using Crate.Testing;
using Crate.Transforms.Segmentation;
using Microsoft.ML;

namespace Crate.Emergence.Tests;

/// <summary>
/// The report's controls on tiny images worked by hand: 4×4 or 6×6 pixels on a 2×2 or 3×3 grid of 2×2-pixel cells,
/// scored through <see cref="MaskScorer"/> (the library's evaluators), against IoUs counted on paper.
/// </summary>
[TestClass]
public sealed class ControlsTests
{
    // A 4×4 image: class 1 fills the top-left cell (4 pixels), class 2 the top row of the top-right cell (2 pixels).
    private static readonly ImageTruth TwoObjects = Truth(4, 4,
        1, 1, 2, 2,
        1, 1, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 0);

    [TestMethod]
    public void OracleUnderTheTopFractionRuleByHand()
    {
        // P = 0.5 of 4 cells: every mask has 2 cells. Foreground shares 1, 0.5, 0, 0 → cells {0, 1}: IoU 6 / (6 + 8 − 6) = 0.75.
        // eq. 13 per class: background (10 px; shares 0, 0.5, 1, 1) → {2, 3}: 8 / (10 + 8 − 8) = 0.8; class 1 → {0, 1}
        // (the tie at share 0 goes to the lower cell): 4 / (4 + 8 − 4) = 0.5; class 2 → {1, 0}: 2 / (2 + 8 − 2) = 0.25.
        // eq. 14: (0.8 + 0.5 + 0.25) / 3.
        var (masks, heads) = PositionControls.Masks(PositionControl.Oracle, MaskRule.TopFraction, 0.5, [TwoObjects], 3, 4, 2, 2);
        Assert.AreEqual(3, heads, "one head per class");
        CollectionAssert.AreEqual(new[] { true, true, false, false }, masks[0].Merged);
        CollectionAssert.AreEqual(new[] { false, false, true, true, true, true, false, false, true, true, false, false }, masks[0].Heads);
        AttentionScores scores = Scorer([TwoObjects], 3).Score(masks, heads, 2, 2);
        NumericAssert.AreClose(0.75, scores.MergedMaskIoU, new Tolerance(1e-12), "merged IoU");
        NumericAssert.AreClose((0.8 + 0.5 + 0.25) / 3, scores.BestHeadMeanIoU, new Tolerance(1e-12), "eq. 13-14");
    }

    [TestMethod]
    public void OracleUnderTheMassRuleIsTheBestPrefix()
    {
        // Object pixels per cell 4, 2, 1, 0 (7 in all): prefixes {0}: 4/7; {0,1}: 6/(7 + 8 − 6) = 2/3; {0,1,2}: 7/12;
        // all: 7/16. The best is {0, 1}.
        ImageTruth truth = Truth(4, 4,
            1, 1, 1, 1,
            1, 1, 0, 0,
            0, 0, 0, 0,
            1, 0, 0, 0);
        bool[] best = PositionControls.BestMask(MaskRule.CumulativeMass, 0.6, truth, truth.Foreground, v => v == 1, 2, 2);
        CollectionAssert.AreEqual(new[] { true, true, false, false }, best);
        AttentionScores scores = Scorer([truth], 2).Score([new GridMasks(best, best)], 1, 2, 2);
        NumericAssert.AreClose(2.0 / 3.0, scores.MergedMaskIoU, new Tolerance(1e-12), "merged IoU");
    }

    [TestMethod]
    public void CentralMaskIsThePlusAroundTheCentre()
    {
        // 3×3 grid, P = 0.5: ⌈4.5⌉ = 5 cells, the centre (distance 0) and its four neighbours (distance 1), not the corners (√2).
        ImageTruth empty = Truth(6, 6, new byte[36]);
        var (masks, heads) = PositionControls.Masks(PositionControl.CentralMask, MaskRule.TopFraction, 0.5, [empty, empty], 2, 4, 3, 3);
        Assert.AreEqual(1, heads);
        bool[] plus = [false, true, false, true, true, true, false, true, false];
        CollectionAssert.AreEqual(plus, masks[0].Merged);
        CollectionAssert.AreEqual(plus, masks[1].Heads, "the same mask for every image");
    }

    [TestMethod]
    public void FittedMaskComesFromTheOtherFold()
    {
        // Objects: image 0 in cell 0; image 1 in cells 2, 3; image 2 in cells 0, 1; image 3 in cell 3. Odd images' mean
        // shares (0, 0, 0.5, 1) give the even images {3, 2}; even images' (1, 0.5, 0, 0) give the odd images {0, 1}:
        // no image's own truth makes its mask.
        ImageTruth[] truth = [Cells(0), Cells(2, 3), Cells(0, 1), Cells(3)];
        var (masks, _) = PositionControls.Masks(PositionControl.FittedMask, MaskRule.TopFraction, 0.5, truth, 2, 4, 2, 2);
        CollectionAssert.AreEqual(new[] { false, false, true, true }, masks[0].Merged);
        CollectionAssert.AreEqual(new[] { true, true, false, false }, masks[1].Merged);
        CollectionAssert.AreEqual(masks[0].Merged, masks[2].Merged);
        CollectionAssert.AreEqual(masks[1].Merged, masks[3].Merged);
        // Scored by hand: image 0 (object cell 0) gets {2, 3}: 0; image 1 gets {0, 1}: 0; image 2 (cells 0, 1) gets {2, 3}:
        // 0; image 3 (cell 3) gets {0, 1}: 0. A position prior fitted on the other fold misses every object here.
        NumericAssert.AreClose(0, Scorer(truth, 2).Score(masks, 1, 2, 2).MergedMaskIoU, Tolerance.Exact, "merged IoU");
    }

    [TestMethod]
    public void RandomMasksKeepTheRuleAndDifferBetweenImagesAndHeads()
    {
        ImageTruth empty = Truth(6, 6, new byte[36]);
        var (masks, heads) = PositionControls.Masks(PositionControl.RandomMask, MaskRule.TopFraction, 0.6, [empty, empty], 2, 3, 3, 3);
        Assert.AreEqual(3, heads, "as many heads as the network");
        foreach (GridMasks m in masks)
            for (int k = 0; k < heads; k++)
                Assert.AreEqual(6, m.Heads.Skip(9 * k).Take(9).Count(b => b), "⌈0.6 · 9⌉ = 6 cells per head");
        CollectionAssert.AreNotEqual(masks[0].Merged, masks[1].Merged, "another image, another draw");
        var again = PositionControls.Masks(PositionControl.RandomMask, MaskRule.TopFraction, 0.6, [empty, empty], 2, 3, 3, 3).Masks;
        CollectionAssert.AreEqual(masks[0].Heads, again[0].Heads, "deterministic");
    }

    [TestMethod]
    public void PermutationControlByHand()
    {
        // Image A's object fills cell 0, image B's cell 3; P = 0.25: one cell per mask. Oracle masks: A {0}, B {3}, so
        // against their own truth the merged IoU is 1 and against the other's 0: the gap is 1. eq. 13-14 (heads: the
        // background's best cell, the object's): A's heads {1} and {0}: own (4/12 + 1)/2 = 2/3; against B's truth
        // (background cells 0-2, object cell 3): (4/12 + 0)/2 = 1/6. B's heads {0} and {3}: own 2/3; against A's truth
        // (background cells 1-3, object cell 0): background best {3} 4/12, object {0} 1: 2/3. Means 2/3 and (1/6 + 2/3)/2 = 5/12.
        ImageTruth a = Cells(0), b = Cells(3);
        MaskScorer scorer = Scorer([a, b], 2);
        var (masks, heads) = PositionControls.Masks(PositionControl.Oracle, MaskRule.TopFraction, 0.25, [a, b], 2, 4, 2, 2);
        int[] shifted = MaskScorer.Shifted(2);
        CollectionAssert.AreEqual(new[] { 1, 0 }, shifted);
        AttentionScores own = scorer.Score(masks, heads, 2, 2), other = scorer.Score(masks, heads, 2, 2, shifted);
        NumericAssert.AreClose(1, own.MergedMaskIoU, new Tolerance(1e-12), "own merged");
        NumericAssert.AreClose(0, other.MergedMaskIoU, new Tolerance(1e-12), "other merged");
        NumericAssert.AreClose(2.0 / 3.0, own.BestHeadMeanIoU, new Tolerance(1e-12), "own eq. 13-14");
        NumericAssert.AreClose(5.0 / 12.0, other.BestHeadMeanIoU, new Tolerance(1e-12), "other eq. 13-14");
    }

    private static MaskScorer Scorer(IReadOnlyList<ImageTruth> truth, int classCount) => new(new MLContext(seed: 0), truth, classCount);

    /// <summary>A 4×4 image whose object (class 1) fills the given cells of its 2×2 grid.</summary>
    private static ImageTruth Cells(params int[] cells)
    {
        var map = new byte[16];
        foreach (int cell in cells)
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 2; x++) map[(cell / 2 * 2 + y) * 4 + cell % 2 * 2 + x] = 1;
        return Truth(4, 4, map);
    }

    private static ImageTruth Truth(int height, int width, params byte[] classes) =>
        new(classes, Array.ConvertAll(classes, c => c == 0 ? (byte)0 : (byte)1), height, width);
}
