using System.Globalization;

namespace Crate.Emergence;

/// <summary>
/// The mean and sample standard deviation of one number measured over several seeds: s = √(Σ(xᵢ − x̄)² / (n − 1)),
/// 0 for a single value. NaN values (a metric with nothing to score) are left out and counted.
/// </summary>
/// <param name="Mean">x̄ over the finite values; NaN when there is none.</param>
/// <param name="StandardDeviation">s over the finite values; 0 for one value, NaN for none.</param>
/// <param name="Count">n, the finite values.</param>
public sealed record MeanAndSpread(double Mean, double StandardDeviation, int Count)
{
    /// <summary>Summarises <paramref name="values"/>.</summary>
    public static MeanAndSpread Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double[] finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0) return new MeanAndSpread(double.NaN, double.NaN, 0);
        double mean = finite.Average();
        double spread = finite.Length == 1 ? 0 : Math.Sqrt(finite.Sum(v => (v - mean) * (v - mean)) / (finite.Length - 1));
        return new MeanAndSpread(mean, spread, finite.Length);
    }

    /// <summary>"12.3 ± 0.4" in percent (values are fractions), or "12.3" for one value, "–" for none.</summary>
    public string ToPercent(int decimals = 1)
    {
        if (Count == 0) return "–";
        string format = "F" + decimals.ToString(CultureInfo.InvariantCulture);
        string mean = (100 * Mean).ToString(format, CultureInfo.InvariantCulture);
        return Count == 1 ? mean : $"{mean} ± {(100 * StandardDeviation).ToString(format, CultureInfo.InvariantCulture)}";
    }
}
