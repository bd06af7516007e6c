using static TorchSharp.torch;

namespace Crate.Testing;

/// <summary>
/// How far a computed value may lie from its oracle: |expected − actual| ≤ <see cref="Absolute"/> +
/// <see cref="Relative"/>·|expected|. Every test states where its numbers come from (see docs/testing.md).
/// </summary>
/// <param name="Absolute">The part of the bound that does not scale with the value: covers results near zero that
/// come out of cancellation, whose error scales with the terms rather than with the result.</param>
/// <param name="Relative">The part that scales with the value.</param>
internal readonly record struct Tolerance(double Absolute, double Relative = 0)
{
    /// <summary>float32's unit roundoff u = 2⁻²⁴: one correctly rounded float32 operation is off by at most u relative.</summary>
    public const double Float32Roundoff = 1.0 / (1 << 24);

    /// <summary>Bit-for-bit: no difference at all.</summary>
    public static Tolerance Exact => new(0, 0);

    /// <summary>True when both values are finite and within the bound; NaN and ±∞ never are.</summary>
    public bool Accepts(double expected, double actual) =>
        double.IsFinite(expected) && double.IsFinite(actual) && Math.Abs(expected - actual) <= Absolute + Relative * Math.Abs(expected);

    /// <inheritdoc />
    public override string ToString() => Relative == 0 ? $"{Absolute:G3}" : $"{Absolute:G3} + {Relative:G3}·|expected|";
}

/// <summary>
/// The suite's one set of numeric assertions. Unlike a bare <c>Assert.IsLessThan(tolerance, difference)</c> (NaN
/// compares as smaller than everything there, so an all-NaN output passes), every check here fails on NaN or ±∞ in
/// either operand, and on shapes that differ.
/// </summary>
internal static class NumericAssert
{
    /// <summary>Fails unless <paramref name="actual"/> is finite and within <paramref name="tolerance"/> of
    /// <paramref name="expected"/>.</summary>
    public static void AreClose(double expected, double actual, Tolerance tolerance, string what)
    {
        if (!tolerance.Accepts(expected, actual))
            Assert.Fail($"{what}: expected {expected:G9}, got {actual:G9} (difference {Math.Abs(expected - actual):G3}, tolerance {tolerance}).");
    }

    /// <summary>Element-wise <see cref="AreClose(double, double, Tolerance, string)"/> over equal-length sequences;
    /// reports the element furthest outside the bound.</summary>
    public static void AreAllClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, Tolerance tolerance, string what)
    {
        Assert.HasCount(expected.Count, actual, $"{what}: length");
        int worst = -1;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Count; i++)
        {
            if (!double.IsFinite(expected[i]) || !double.IsFinite(actual[i]))
                Assert.Fail($"{what}: element {i} is not finite (expected {expected[i]}, got {actual[i]}).");
            double excess = Math.Abs(expected[i] - actual[i]) - (tolerance.Absolute + tolerance.Relative * Math.Abs(expected[i]));
            if (excess > worstExcess) (worst, worstExcess) = (i, excess);
        }
        if (worst >= 0 && !tolerance.Accepts(expected[worst], actual[worst]))
            Assert.Fail($"{what}: element {worst} expected {expected[worst]:G9}, got {actual[worst]:G9} " +
                        $"(difference {Math.Abs(expected[worst] - actual[worst]):G3}, tolerance {tolerance}).");
    }

    /// <summary>Float overload of <see cref="AreAllClose(IReadOnlyList{double}, IReadOnlyList{double}, Tolerance, string)"/>.</summary>
    public static void AreAllClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, Tolerance tolerance, string what) =>
        AreAllClose(expected.Select(v => (double)v).ToArray(), actual.Select(v => (double)v).ToArray(), tolerance, what);

    /// <summary>Same shape and every element finite and within <paramref name="tolerance"/>.</summary>
    public static void AreClose(Tensor expected, Tensor actual, Tolerance tolerance, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape [{string.Join(", ", expected.shape)}] expected, " +
                                                                $"[{string.Join(", ", actual.shape)}] got");
        AreAllClose(Values(expected), Values(actual), tolerance, what);
    }

    /// <summary>A matrix [rows, columns] computed in doubles (the hand-computed oracles) against a 2-D tensor.</summary>
    public static void AreClose(double[,] expected, Tensor actual, Tolerance tolerance, string what)
    {
        CollectionAssert.AreEqual(new long[] { expected.GetLength(0), expected.GetLength(1) }, actual.shape, $"{what}: shape");
        AreAllClose(expected.Cast<double>().ToArray(), Values(actual), tolerance, what);
    }

    /// <summary>Same shape, same element type and bit-for-bit equal values (torch.equal; TorchSharp's <c>equal</c>
    /// is element-wise). NaN never equals anything.</summary>
    public static void AreEqual(Tensor expected, Tensor actual, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        Assert.AreEqual(expected.dtype, actual.dtype, $"{what}: element type");
        using Tensor same = expected.eq(actual).all();
        Assert.IsTrue(same.item<bool>(), $"{what}: values differ.");
    }

    /// <summary>Fails unless <paramref name="value"/> is finite and at most <paramref name="bound"/>.</summary>
    public static void IsAtMost(double bound, double value, string what)
    {
        if (!(double.IsFinite(value) && value <= bound))
            Assert.Fail($"{what}: {value:G6} is not at most {bound:G6}.");
    }

    /// <summary>Fails unless <paramref name="value"/> is finite and below <paramref name="bound"/>.</summary>
    public static void IsBelow(double bound, double value, string what)
    {
        if (!(double.IsFinite(value) && value < bound))
            Assert.Fail($"{what}: {value:G6} is not below {bound:G6}.");
    }

    /// <summary>Fails unless <paramref name="value"/> is finite and at least <paramref name="bound"/>.</summary>
    public static void IsAtLeast(double bound, double value, string what)
    {
        if (!(double.IsFinite(value) && value >= bound))
            Assert.Fail($"{what}: {value:G6} is not at least {bound:G6}.");
    }

    /// <summary>Fails unless <paramref name="value"/> is finite and above <paramref name="bound"/>.</summary>
    public static void IsAbove(double bound, double value, string what)
    {
        if (!(double.IsFinite(value) && value > bound))
            Assert.Fail($"{what}: {value:G6} is not above {bound:G6}.");
    }

    /// <summary>The elements of a tensor of any floating type, as doubles, read on the CPU in row-major order.</summary>
    public static double[] Values(Tensor t)
    {
        using Tensor values = t.detach().to(ScalarType.Float64, CPU).contiguous();
        return values.data<double>().ToArray();
    }
}
