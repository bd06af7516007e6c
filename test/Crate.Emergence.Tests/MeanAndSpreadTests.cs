using Crate.Emergence;
using Crate.Testing;

namespace Crate.Emergence.Tests;

/// <summary>The seeds' mean and sample standard deviation, against values worked out by hand.</summary>
[TestClass]
public sealed class MeanAndSpreadTests
{
    [TestMethod]
    public void MeanAndSampleStandardDeviationByHand()
    {
        // 1, 2, 3, 4: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; s = √(5 / 3).
        MeanAndSpread four = MeanAndSpread.Of([1, 2, 3, 4]);
        NumericAssert.AreClose(2.5, four.Mean, Tolerance.Exact, "mean");
        NumericAssert.AreClose(Math.Sqrt(5.0 / 3.0), four.StandardDeviation, new Tolerance(1e-15), "s");
        Assert.AreEqual(4, four.Count);

        // 0.30, 0.36, 0.33: mean 0.33; deviations ∓0.03 and 0 → s = √(0.0018 / 2) = 0.03.
        MeanAndSpread three = MeanAndSpread.Of([0.30, 0.36, 0.33]);
        NumericAssert.AreClose(0.33, three.Mean, new Tolerance(1e-15), "mean of three");
        NumericAssert.AreClose(0.03, three.StandardDeviation, new Tolerance(1e-15), "s of three");
        Assert.AreEqual("33.0 ± 3.0", three.ToPercent());
    }

    [TestMethod]
    public void OneValueHasNoSpreadAndNaNIsLeftOut()
    {
        MeanAndSpread one = MeanAndSpread.Of([0.25]);
        NumericAssert.AreClose(0.25, one.Mean, Tolerance.Exact, "mean");
        NumericAssert.AreClose(0, one.StandardDeviation, Tolerance.Exact, "s");
        Assert.AreEqual("25.0", one.ToPercent());

        // A metric with nothing to score in one seed (NaN) is averaged over the others: 0.2 and 0.4 → 0.3 ± √0.02.
        MeanAndSpread withNaN = MeanAndSpread.Of([0.2, double.NaN, 0.4]);
        Assert.AreEqual(2, withNaN.Count);
        NumericAssert.AreClose(0.3, withNaN.Mean, new Tolerance(1e-15), "mean without NaN");
        NumericAssert.AreClose(Math.Sqrt(0.02), withNaN.StandardDeviation, new Tolerance(1e-15), "s without NaN");

        MeanAndSpread none = MeanAndSpread.Of([double.NaN]);
        Assert.AreEqual(0, none.Count);
        Assert.IsTrue(double.IsNaN(none.Mean));
        Assert.AreEqual("–", none.ToPercent());
    }
}
