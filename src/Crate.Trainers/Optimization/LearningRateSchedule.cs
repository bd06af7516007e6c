namespace Crate.Trainers.Optimization;

/// <summary>
/// The reference's learning-rate factor: linear warm-up then cosine decay,
/// f(e) = min((e + 1) / W, ½·(1 + cos(π·e / E))) for epoch e = 0 … E − 1 with W warm-up epochs of E
/// (only the cosine when W = 0). The learning rate is base·f.
/// </summary>
internal sealed class LearningRateSchedule
{
    /// <summary>Creates the schedule for <paramref name="totalEpochs"/> epochs, the first <paramref name="warmupEpochs"/> warming up.</summary>
    public LearningRateSchedule(int warmupEpochs, int totalEpochs)
    {
        if (totalEpochs < 1) throw new ArgumentOutOfRangeException(nameof(totalEpochs), totalEpochs, "At least one epoch.");
        if (warmupEpochs < 0) throw new ArgumentOutOfRangeException(nameof(warmupEpochs), warmupEpochs, "Warm-up epochs must not be negative.");
        WarmupEpochs = warmupEpochs;
        TotalEpochs = totalEpochs;
    }

    /// <summary>W.</summary>
    public int WarmupEpochs { get; }

    /// <summary>E.</summary>
    public int TotalEpochs { get; }

    /// <summary>f(e) for a whole epoch, as the reference's per-epoch LambdaLR.</summary>
    public double Factor(int epoch) => FactorAtEpoch(epoch);

    /// <summary>f at a fractional epoch e = step / stepsPerEpoch, for a schedule that advances every step.</summary>
    public double FactorAt(long step, int stepsPerEpoch)
    {
        if (stepsPerEpoch < 1) throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, "At least one step per epoch.");
        return FactorAtEpoch((double)step / stepsPerEpoch);
    }

    private double FactorAtEpoch(double epoch)
    {
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * epoch / TotalEpochs));
        return WarmupEpochs == 0 ? cosine : Math.Min((epoch + 1) / WarmupEpochs, cosine);
    }
}
