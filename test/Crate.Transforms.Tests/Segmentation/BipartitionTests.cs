using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>The split rules on hand-made Fiedler vectors.</summary>
[TestClass]
public sealed class BipartitionTests
{
    [TestMethod]
    public void SideHoldingThreeCornersIsFlippedAway()
    {
        // 3×4 grid. Positive on three corners (0, 3, 8) and the cell next to one; the seed (largest |v|) is corner 0.
        double[] v = [5, 1, -1, 4, -1, -1, -1, -1, 4, -1, -1, -2];
        (bool[] side, int seed) = Bipartition.Split(v, 3, 4);
        CollectionAssert.AreEqual(v.Select(x => x <= v.Average()).ToArray(), side);
        Assert.AreEqual(11, seed, "after the flip the seed is argmax of −v");
    }

    [TestMethod]
    public void SeedsSideIsKeptWhenCornersSplitTwoTwo()
    {
        // Left column positive (2 corners), right column negative (2 corners); the seed is the largest |v|, −6.
        double[] v = [2, 0, -6, 2, 0, -3, 2, 0, -3];
        (bool[] side, int seed) = Bipartition.Split(v, 3, 3);
        double mean = v.Average();
        CollectionAssert.AreEqual(v.Select(x => -x > -mean).ToArray(), side, "the negative side, oriented to hold the seed");
        Assert.AreEqual(2, seed);
    }

    [TestMethod]
    public void SignOfTheEigenvectorDoesNotMatter()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            double[] v = Enumerable.Range(0, 5 * 6).Select(_ => random.NextDouble() - 0.3).ToArray();
            (bool[] side, int seed) = Bipartition.Split(v, 5, 6);
            (bool[] flippedSide, int flippedSeed) = Bipartition.Split(v.Select(x => -x).ToArray(), 5, 6);
            CollectionAssert.AreEqual(side, flippedSide, $"trial {trial}");
            Assert.AreEqual(seed, flippedSeed, $"trial {trial}");
            Assert.IsTrue(side[seed], "the seed lies on the kept side");
        }
    }

    [TestMethod]
    public void SeedOnTheCornerSideLosesToTheCornerRule()
    {
        // The case where the spec's two rules disagree: the largest |v| (−9, a corner) is on the side holding 3
        // corners. Read with either sign, the non-corner side is kept.
        double[] v = [-9, -1, 3, -1, -1, 3, -1, 3, -1];
        double mean = v.Average();
        (bool[] side, _) = Bipartition.Split(v, 3, 3);
        CollectionAssert.AreEqual(v.Select(x => x > mean).ToArray(), side);
    }
}
