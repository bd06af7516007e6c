using Crate.Emergence;
using Crate.Testing;

namespace Crate.Emergence.Tests;

/// <summary>
/// Welch's test against numbers computed independently (Fixtures/welch_fixture.py: the textbook t and
/// Welch–Satterthwaite ν, and the p by integrating Student's density numerically, itself checked there against the
/// closed forms for ν = 1 and 2), against those closed forms directly, and Holm's correction against a case worked by hand.
/// </summary>
[TestClass]
public sealed class SignificanceTestsTests
{
    [TestMethod]
    public void WelchMatchesTheIndependentlyComputedFixture()
    {
        // (x, y, t, ν, p) from welch_fixture.py.
        (double[] X, double[] Y, double T, double Df, double P)[] cases =
        [
            ([0.306, 0.318, 0.295], [0.248, 0.231, 0.265], 4.922259566551354, 3.514130681030863, 0.010972686337976989),
            ([0.338, 0.336, 0.340], [0.288, 0.253, 0.323], 2.470328394346668, 2.0130610852295785, 0.1313436475378339),
            ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 7.0], -1.15311332039411, 2.7948025649679376, 0.337882457329281),
        ];
        foreach ((double[] x, double[] y, double t, double df, double p) in cases)
        {
            WelchTest test = WelchTest.Of(x, y);
            NumericAssert.AreClose(t, test.T, new Tolerance(1e-12), "t");
            NumericAssert.AreClose(df, test.DegreesOfFreedom, new Tolerance(1e-12), "ν");
            NumericAssert.AreClose(p, test.P, new Tolerance(1e-10), "p");
        }
    }

    [TestMethod]
    public void StudentTailsMatchTheClosedForms()
    {
        foreach (double t in new[] { 0.5, 2.0, 7.5 })
        {
            // ν = 1 is Cauchy: P(|T| ≥ t) = 1 − (2/π)·atan t; ν = 2: 1 − t/√(2 + t²).
            NumericAssert.AreClose(1 - 2 / Math.PI * Math.Atan(t), WelchTest.StudentTwoSidedP(t, 1), new Tolerance(1e-13), $"ν = 1, t = {t}");
            NumericAssert.AreClose(1 - t / Math.Sqrt(2 + t * t), WelchTest.StudentTwoSidedP(-t, 2), new Tolerance(1e-13), $"ν = 2, t = −{t}");
        }
        NumericAssert.AreClose(1, WelchTest.StudentTwoSidedP(0, 3.7), new Tolerance(1e-15), "t = 0");
    }

    [TestMethod]
    public void AControlWithoutSpreadMakesItTheOneSampleTest()
    {
        // Seeds 0.30, 0.36, 0.33 (mean 0.33, s 0.03) against a control of 0.30: t = 0.03 / (0.03/√3) = √3, ν = 2,
        // p = 1 − √3/√5 by the ν = 2 closed form.
        WelchTest test = WelchTest.Of(MeanAndSpread.Of([0.30, 0.36, 0.33]), MeanAndSpread.Of([0.30]));
        NumericAssert.AreClose(Math.Sqrt(3), test.T, new Tolerance(1e-12), "t");
        NumericAssert.AreClose(2, test.DegreesOfFreedom, new Tolerance(1e-12), "ν");
        NumericAssert.AreClose(1 - Math.Sqrt(3.0 / 5.0), test.P, new Tolerance(1e-12), "p");

        Assert.IsTrue(double.IsNaN(WelchTest.Of(MeanAndSpread.Of([0.3]), MeanAndSpread.Of([0.2])).P), "no spread on either side: no test");
        Assert.IsTrue(double.IsNaN(WelchTest.Of(MeanAndSpread.Of([double.NaN]), MeanAndSpread.Of([0.2, 0.3])).P), "no values: no test");
    }

    [TestMethod]
    public void HolmAdjustsStepDownByHand()
    {
        // p = 0.01, 0.04, 0.03, 0.005 (m = 4). Sorted: 0.005·4 = 0.02; 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04 → kept
        // at the running maximum 0.06. A NaN is not a test: it stays NaN and does not count in m.
        double[] adjusted = HolmCorrection.Adjust([0.01, 0.04, double.NaN, 0.03, 0.005]);
        double[] expected = [0.03, 0.06, double.NaN, 0.06, 0.02];
        for (int i = 0; i < expected.Length; i++)
            if (double.IsNaN(expected[i])) Assert.IsTrue(double.IsNaN(adjusted[i]), $"entry {i} stays NaN");
            else NumericAssert.AreClose(expected[i], adjusted[i], new Tolerance(1e-15), $"entry {i}");
        // Capped at 1: 0.6·2 = 1.2 → 1.
        CollectionAssert.AreEqual(new[] { 1.0, 1.0 }, HolmCorrection.Adjust([0.6, 0.7]));
    }
}
