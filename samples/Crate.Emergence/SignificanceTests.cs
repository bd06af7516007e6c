namespace Crate.Emergence;

/// <summary>
/// Welch's unequal-variance t-test on two sets of seeds: t = (x̄ − ȳ) / √(s_x²/n_x + s_y²/n_y), Welch–Satterthwaite
/// degrees of freedom ν = (s_x²/n_x + s_y²/n_y)² / ((s_x²/n_x)²/(n_x − 1) + (s_y²/n_y)²/(n_y − 1)), and the two-sided
/// p = P(|T_ν| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2). A side with zero spread (a control, which has no seeds) contributes
/// nothing to either sum, so the test becomes the one-sample t-test of the other side against that value.
/// </summary>
/// <param name="T">t; NaN when the test is undefined.</param>
/// <param name="DegreesOfFreedom">ν; NaN when undefined.</param>
/// <param name="P">The two-sided p; NaN when undefined (fewer than two values on a side with spread, or no spread at all).</param>
public sealed record WelchTest(double T, double DegreesOfFreedom, double P)
{
    /// <summary>The test of <paramref name="x"/> against <paramref name="y"/> from their means, spreads and counts.</summary>
    public static WelchTest Of(MeanAndSpread x, MeanAndSpread y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var undefined = new WelchTest(double.NaN, double.NaN, double.NaN);
        if (x.Count == 0 || y.Count == 0) return undefined;
        // A side of one value with no spread counts as a known constant; a side of several needs n − 1 > 0.
        double qx = x.StandardDeviation * x.StandardDeviation / x.Count, qy = y.StandardDeviation * y.StandardDeviation / y.Count;
        if ((qx > 0 && x.Count < 2) || (qy > 0 && y.Count < 2)) return undefined;
        double q = qx + qy;
        if (!(q > 0)) return undefined;
        double t = (x.Mean - y.Mean) / Math.Sqrt(q);
        double df = q * q / ((qx > 0 ? qx * qx / (x.Count - 1) : 0) + (qy > 0 ? qy * qy / (y.Count - 1) : 0));
        return new WelchTest(t, df, StudentTwoSidedP(t, df));
    }

    /// <summary>The test of the values <paramref name="x"/> against <paramref name="y"/>.</summary>
    public static WelchTest Of(IEnumerable<double> x, IEnumerable<double> y) => Of(MeanAndSpread.Of(x), MeanAndSpread.Of(y));

    /// <summary>P(|T_ν| ≥ |t|) for Student's t with ν degrees of freedom (ν &gt; 0, not necessarily whole).</summary>
    public static double StudentTwoSidedP(double t, double degreesOfFreedom)
    {
        if (double.IsNaN(t) || !(degreesOfFreedom > 0)) return double.NaN;
        if (double.IsInfinity(t)) return 0;
        return RegularizedIncompleteBeta(degreesOfFreedom / (degreesOfFreedom + t * t), degreesOfFreedom / 2, 0.5);
    }

    /// <summary>I_x(a, b) by the continued fraction of Numerical Recipes §6.4 (modified Lentz), on whichever side converges.</summary>
    private static double RegularizedIncompleteBeta(double x, double a, double b)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? front * ContinuedFraction(x, a, b) / a
            : 1 - front * ContinuedFraction(1 - x, b, a) / b;
    }

    private static double ContinuedFraction(double x, double a, double b)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.Abs(d) < tiny ? tiny : d);
        double h = d;
        for (int m = 1; m <= 500; m++)
        {
            int m2 = 2 * m;
            double step = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + step * d;
            d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + step / c;
            if (Math.Abs(c) < tiny) c = tiny;
            h *= d * c;
            step = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + step * d;
            d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + step / c;
            if (Math.Abs(c) < tiny) c = tiny;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) return h;
        }
        return h;
    }

    /// <summary>ln Γ(z) for z &gt; 0 by Lanczos' approximation (g = 7, 9 terms; relative error below 1e-15).</summary>
    private static double LogGamma(double z)
    {
        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (z < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * z))) - LogGamma(1 - z);
        z -= 1;
        double sum = coefficients[0];
        for (int i = 1; i < coefficients.Length; i++) sum += coefficients[i] / (z + i);
        double t = z + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (z + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}

/// <summary>Holm's step-down correction of a family of p-values for the family-wise error rate.</summary>
public static class HolmCorrection
{
    /// <summary>
    /// Adjusted p-values in the input's order: sort the m finite p's ascending, p₍ᵢ₎ → min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎).
    /// A NaN (a test that could not be made) stays NaN and is not counted in m.
    /// </summary>
    public static double[] Adjust(IReadOnlyList<double> p)
    {
        ArgumentNullException.ThrowIfNull(p);
        int[] order = Enumerable.Range(0, p.Count).Where(i => !double.IsNaN(p[i])).OrderBy(i => p[i]).ThenBy(i => i).ToArray();
        var adjusted = Enumerable.Repeat(double.NaN, p.Count).ToArray();
        double running = 0;
        for (int rank = 0; rank < order.Length; rank++)
        {
            running = Math.Max(running, Math.Min(1, (order.Length - rank) * p[order[rank]]));
            adjusted[order[rank]] = running;
        }
        return adjusted;
    }
}
