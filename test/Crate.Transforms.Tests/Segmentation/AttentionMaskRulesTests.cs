using Crate.Testing;
using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Segmentation;

[TestClass]
public sealed class AttentionMaskRulesTests
{
    [TestMethod]
    [DataRow(0.6, 6)]
    [DataRow(0.61, 7)]
    [DataRow(0.05, 1)]
    [DataRow(1.0, 10)]
    public void TopFractionKeepsExactlyCeilPN(double fraction, int expected)
    {
        float[] map = [0.3f, 0.1f, 0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.05f, 0.1f]; // many ties
        bool[] mask = AttentionMaskRules.TopFraction(map, fraction);
        Assert.AreEqual(expected, mask.Count(m => m));
        Assert.IsTrue(mask[0], "the largest entry is always kept");
        // Every kept entry is at least as large as every dropped one.
        float smallestKept = map.Where((_, i) => mask[i]).Min();
        Assert.IsTrue(map.Where((_, i) => !mask[i]).All(v => v <= smallestKept));
    }

    [TestMethod]
    public void CumulativeMassKeepsTheFewestLargestEntriesHoldingP()
    {
        float[] map = [0.125f, 0.5f, 0.125f, 0.25f]; // exact in binary, so the sums are exact
        // 0.5 < 0.6, 0.5 + 0.25 = 0.75 ≥ 0.6: keep entries 1 and 3.
        CollectionAssert.AreEqual(new[] { false, true, false, true }, AttentionMaskRules.CumulativeMass(map, 0.6));
        // 0.5 ≥ 0.5: entry 1 alone.
        CollectionAssert.AreEqual(new[] { false, true, false, false }, AttentionMaskRules.CumulativeMass(map, 0.5));
        // Unnormalised maps are measured against their own total (here 2.0): 1.0 + 0.6 = 1.6 ≥ 0.7·2.0 = 1.4.
        CollectionAssert.AreEqual(new[] { false, true, false, true }, AttentionMaskRules.CumulativeMass([0.2f, 1.0f, 0.2f, 0.6f], 0.7));
    }

    [TestMethod]
    public void IntersectionOverUnionByHand()
    {
        bool[] a = [true, true, false, false, true];
        bool[] b = [true, false, true, false, true];
        NumericAssert.AreClose(2.0 / 4.0, BinaryMask.IntersectionOverUnion(a, b), Tolerance.Exact, "2 of 4 cells");
        Assert.AreEqual(0.0, BinaryMask.IntersectionOverUnion(new bool[3], new bool[3]), "pycocotools' convention: an empty union scores 0");
        Assert.ThrowsExactly<ArgumentException>(() => BinaryMask.IntersectionOverUnion(a, [true]));
    }

    [TestMethod]
    public void FractionsOutsideTheUnitIntervalAreRefused()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => AttentionMaskRules.TopFraction([1f], 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => AttentionMaskRules.CumulativeMass([1f], 1.5));
    }
}
