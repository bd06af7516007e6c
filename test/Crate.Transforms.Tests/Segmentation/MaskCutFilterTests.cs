using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>CutLER's IoU and area limits at their boundaries (spec: IoU "exceeds 0.5", area "≤ 1%").</summary>
[TestClass]
public sealed class MaskCutFilterTests
{
    private static readonly MaskCutOptions Defaults = new();

    private static BinaryMask Columns(int from, int to) =>
        new(10, 10, Enumerable.Range(0, 100).Select(i => i % 10 >= from && i % 10 < to).ToArray());

    [TestMethod]
    public void OverlapAboveHalfIsRejectedAtHalfKept()
    {
        // Columns 0–3 against 1–4 and 2–5: IoU 3/5 and 2/6.
        Assert.IsTrue(MaskCutFilter.Rejects(Columns(1, 5), Columns(0, 4), Defaults));
        Assert.IsFalse(MaskCutFilter.Rejects(Columns(2, 6), Columns(0, 4), Defaults));
        // Columns 0–2 against 1–3: IoU exactly 2/4, kept.
        Assert.AreEqual(0.5, Columns(0, 3).IntersectionOverUnion(Columns(1, 4)));
        Assert.IsFalse(MaskCutFilter.Rejects(Columns(1, 4), Columns(0, 3), Defaults));
    }

    [TestMethod]
    public void AreaOfOnePercentIsRejectedAboveKept()
    {
        var previous = Columns(0, 2);
        bool[] cells = new bool[100];
        cells[55] = true;
        Assert.IsTrue(MaskCutFilter.Rejects(new BinaryMask(10, 10, cells), previous, Defaults), "1 of 100 cells");
        cells[56] = true;
        Assert.IsFalse(MaskCutFilter.Rejects(new BinaryMask(10, 10, cells), previous, Defaults), "2 of 100 cells");
    }
}
