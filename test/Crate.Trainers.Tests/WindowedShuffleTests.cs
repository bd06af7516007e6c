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
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 1000).ToArray(), order, "it shuffles");
        CollectionAssert.AreEqual(order, WindowedShuffle.Order(1000, 16, SplitMix64.For(1, 0, -1)));
        CollectionAssert.AreEqual(Enumerable.Range(0, 5).ToArray(), WindowedShuffle.Order(5, 1, new SplitMix64(3)), "a window of one keeps the order");
    }
}
