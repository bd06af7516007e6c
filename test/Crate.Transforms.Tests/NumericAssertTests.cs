using Crate.Testing;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests;

/// <summary>The shared numeric assertions (test/Shared) fail on NaN and ±∞ wherever they appear, and hold their bound
/// exactly (MSTest's bare <c>Assert.IsLessThan(tolerance, difference)</c> lets NaN through: NaN compares as less).</summary>
[TestClass]
public sealed class NumericAssertTests
{
    private static readonly double[] NonFinite = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];
    private static readonly Tolerance Loose = new(Absolute: 1e6, Relative: 1e6);

    private static void Fails(Action check, string what) => Assert.ThrowsExactly<AssertFailedException>(check, what);

    [TestMethod]
    public void EveryComparisonFailsOnANonFiniteActualOrExpectedValue()
    {
        foreach (double bad in NonFinite)
        {
            Fails(() => NumericAssert.AreClose(1.0, bad, Loose, "scalar"), $"scalar actual {bad}");
            Fails(() => NumericAssert.AreClose(bad, 1.0, Loose, "scalar"), $"scalar expected {bad}");
            Fails(() => NumericAssert.AreClose(bad, bad, Loose, "scalar"), $"scalar both {bad}");
            Fails(() => NumericAssert.AreAllClose([1.0, 2.0], [1.0, bad], Loose, "list"), $"list actual {bad}");
            Fails(() => NumericAssert.AreAllClose([bad, 2.0], [bad, 2.0], Loose, "list"), $"list both {bad}");
            Fails(() => NumericAssert.AreAllClose([1f, 2f], [(float)bad, 2f], Loose, "float list"), $"float list actual {bad}");
            using Tensor good = tensor(new[] { 1f, 2f, 3f, 4f }, [2, 2]);
            using Tensor poisoned = good.clone();
            poisoned[1, 0] = tensor((float)bad);
            Fails(() => NumericAssert.AreClose(good, poisoned, Loose, "tensor"), $"tensor actual {bad}");
            Fails(() => NumericAssert.AreClose(poisoned, good, Loose, "tensor"), $"tensor expected {bad}");
            Fails(() => NumericAssert.AreClose(poisoned, poisoned, Loose, "tensor"), $"tensor both {bad}");
            Fails(() => NumericAssert.AreClose(new double[,] { { 1, 2 }, { 3, 4 } }, poisoned, Loose, "matrix"), $"matrix actual {bad}");
            Fails(() => NumericAssert.AreClose(new double[,] { { 1, 2 }, { bad, 4 } }, good, Loose, "matrix"), $"matrix expected {bad}");
            Fails(() => NumericAssert.IsBelow(1.0, bad, "bound"), $"below {bad}");
            Fails(() => NumericAssert.IsAtMost(1.0, bad, "bound"), $"at most {bad}");
            Fails(() => NumericAssert.IsAbove(-1.0, bad, "bound"), $"above {bad}");
            Fails(() => NumericAssert.IsAtLeast(-1.0, bad, "bound"), $"at least {bad}");
        }
        using Tensor nan = tensor(new[] { float.NaN });
        Fails(() => NumericAssert.AreEqual(nan, nan.clone(), "NaN"), "NaN is not equal to itself");
        Fails(() => NumericAssert.AreClose(full(new long[] { 1000 }, float.NaN), full(new long[] { 1000 }, float.NaN), Loose, "all NaN"), "an all-NaN output");
    }

    [TestMethod]
    public void TheBoundIsAbsolutePlusRelativeAndInclusive()
    {
        var tolerance = new Tolerance(Absolute: 0.5, Relative: 0.25);
        // |e − a| ≤ 0.5 + 0.25·|e|: for e = 4 the bound is 1.5 (exact in binary).
        NumericAssert.AreClose(4.0, 5.5, tolerance, "at the bound");
        NumericAssert.AreClose(4.0, 2.5, tolerance, "at the bound, below");
        Fails(() => NumericAssert.AreClose(4.0, 5.5000001, tolerance, "past the bound"), "past the bound");
        // The relative part scales with the expected value, not the actual one.
        Fails(() => NumericAssert.AreClose(0.0, 0.6, tolerance, "near zero"), "only the absolute part applies at zero");
        NumericAssert.AreAllClose([4.0, 0.0], [5.5, -0.5], tolerance, "element-wise");
        Fails(() => NumericAssert.AreAllClose([4.0, 0.0], [4.0, 0.51], tolerance, "element-wise"), "one element past its bound");
        NumericAssert.AreClose(7.0, 7.0, Tolerance.Exact, "exact");
        Fails(() => NumericAssert.AreClose(7.0, Math.BitIncrement(7.0), Tolerance.Exact, "exact"), "one ulp off");
    }

    [TestMethod]
    public void ShapesAndLengthsMustAgree()
    {
        Fails(() => NumericAssert.AreClose(zeros(2, 3), zeros(3, 2), Loose, "shape"), "transposed shape");
        Fails(() => NumericAssert.AreClose(new double[2, 3], zeros(3, 2), Loose, "matrix shape"), "matrix shape");
        Fails(() => NumericAssert.AreAllClose([1.0], [1.0, 1.0], Loose, "length"), "length");
        Fails(() => NumericAssert.AreEqual(zeros(2), zeros(2, ScalarType.Float64), "type"), "element type");
    }
}
