using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>
/// Lion (Chen et al. 2023), the reference's rule: p ← p·(1 − lr·wd); p ← p − lr·sign(β₁·m + (1 − β₁)·g);
/// m ← β₂·m + (1 − β₂)·g; with m starting at 0.
/// </summary>
internal sealed class LionOptimizer : CrateOptimizer
{
    private static readonly string[] Names = ["exp_avg"];

    /// <summary>Creates Lion with betas (<paramref name="beta1"/>, <paramref name="beta2"/>), by default (0.9, 0.99).</summary>
    public LionOptimizer(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.99)
        : base(parameters, learningRate, weightDecay)
    {
        Beta1 = beta1;
        Beta2 = beta2;
    }

    /// <summary>β₁: weight of the momentum in the update direction.</summary>
    public double Beta1 { get; }

    /// <summary>β₂: decay of the momentum.</summary>
    public double Beta2 { get; }

    /// <inheritdoc />
    protected override IReadOnlyList<string> StateNames => Names;

    /// <inheritdoc />
    protected override void Update(Tensor parameter, Tensor gradient, IReadOnlyList<Tensor> state, long step)
    {
        Tensor momentum = state[0];
        // Every number held for the calls (Crate.Transforms.HeldScalars).
        using Scalar decay = (1 - LearningRate * WeightDecay).ToScalar(), beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar(),
            beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar(), stepSize = (-LearningRate).ToScalar();
        parameter.mul_(decay);
        Tensor direction = momentum.mul(beta1).add_(gradient, alpha: oneMinusBeta1).sign_();
        parameter.add_(direction, alpha: stepSize);
        momentum.mul_(beta2).add_(gradient, alpha: oneMinusBeta2);
    }
}
