using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>
/// AdamW with PyTorch's semantics: p ← p·(1 − lr·wd); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
/// p ← p − lr·m̂ / (√v̂ + ε) with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
/// </summary>
internal sealed class AdamWOptimizer : CrateOptimizer
{
    private static readonly string[] Names = ["exp_avg", "exp_avg_sq"];

    /// <summary>Creates AdamW; defaults betas (0.9, 0.999), ε 1e-8.</summary>
    public AdamWOptimizer(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8) : base(parameters, learningRate, weightDecay)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>β₁: decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>β₂: decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>ε added to √v̂.</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    protected override IReadOnlyList<string> StateNames => Names;

    /// <inheritdoc />
    protected override void Update(Tensor parameter, Tensor gradient, IReadOnlyList<Tensor> state, long step)
    {
        Tensor first = state[0], second = state[1];
        double firstCorrection = 1 - Math.Pow(Beta1, step);
        double secondCorrection = 1 - Math.Pow(Beta2, step);
        // Every number held for the calls (Crate.Transforms.HeldScalars).
        using Scalar decay = (1 - LearningRate * WeightDecay).ToScalar(), beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar(),
            beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar(), correction = secondCorrection.ToScalar(),
            epsilon = Epsilon.ToScalar(), stepSize = (-LearningRate / firstCorrection).ToScalar();
        parameter.mul_(decay);
        first.mul_(beta1).add_(gradient, alpha: oneMinusBeta1);
        second.mul_(beta2).addcmul_(gradient, gradient, value: oneMinusBeta2);
        Tensor denominator = second.div(correction).sqrt_().add_(epsilon);
        parameter.addcdiv_(first, denominator, value: stepSize);
    }
}
