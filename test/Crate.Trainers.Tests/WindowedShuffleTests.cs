using Crate.Trainers.Augmentation;

namespace Crate.Trainers.Tests;

[TestClass]
public sealed class WindowedShuffleTests
{
    [TestMethod]
    public void OrderIsAPermutationThatNeverReachesBeyondTheWindow()
    {
        int[] order = WindowedShuffle.Order(1000, 16, SplitMix64.For(1, 0, -1));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 1000).ToArray(), order);
        // Row r cannot be served before row r − 16 + 1 has entered the pool: position ≥ r − window + 1.
        for (int position = 0; position < order.Length; position++)
            Assert.IsLessThan(position + 16, order[position], $"position {position}");
        // It shuffles: each position serves a row drawn from a pool of 16, so a row keeps its own position only by the
        // chance of being drawn exactly then (of order 1/16); the bar is twice that.
        int inPlace = order.Where((row, position) => row == position).Count();
        Assert.IsLessThanOrEqualTo(1000 / 8, inPlace, "rows served at their own position");
        CollectionAssert.AreEqual(order, WindowedShuffle.Order(1000, 16, SplitMix64.For(1, 0, -1)));
        CollectionAssert.AreEqual(Enumerable.Range(0, 5).ToArray(), WindowedShuffle.Order(5, 1, new SplitMix64(3)), "a window of one keeps the order");
    }
}
