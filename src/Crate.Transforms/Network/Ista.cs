using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// ISTA, the sparsification step of CRATE (eq. 7): one proximal-gradient step of the non-negative LASSO
/// against the dictionary D, z⁺ = ReLU(x + η·Dᵀ(x − Dx) − ηλ). With tokens as rows, Dᵀ(x − Dx) is
/// (x − x·Dᵀ)·D, two matrix products instead of the reference's three (x·D − (x·Dᵀ)·D).
/// The soft-threshold variant (CRATE-sth, Figure 13) replaces ReLU(u − ηλ) by sign(u)·max(|u| − ηλ, 0).
/// </summary>
public sealed class Ista : FeedForwardBlock
{
    private readonly Parameter dictionary;
    private readonly double step_size;
    private readonly double threshold;
    private readonly bool soft_threshold;

    /// <summary>
    /// Creates ISTA over d-dimensional tokens, with step η, regulariser λ and the chosen thresholding; D is drawn from
    /// <paramref name="generator"/> (the process-wide generator when null).
    /// </summary>
    public Ista(int embeddingDim, double stepSize, double lambda, bool softThreshold, Generator? generator = null) : base("ISTA")
    {
        step_size = stepSize;
        threshold = stepSize * lambda;
        soft_threshold = softThreshold;
        // kaiming_uniform with a = 0, as the reference initialises D.
        dictionary = new Parameter(ParameterInitialization.KaimingUniform(embeddingDim, embeddingDim, a: 0, generator));
        RegisterComponents();
    }

    /// <summary>The dictionary D, [d, d].</summary>
    public Parameter Dictionary => dictionary;

    /// <inheritdoc />
    public override bool HasSkip => false;

    /// <inheritdoc />
    public override bool IsSparseCode => true;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // u = x + η·(x − x·Dᵀ)·D
        using Scalar step = step_size.ToScalar(), shift = threshold.ToScalar(); // held for the calls (HeldScalars)
        Tensor residual = x - nn.functional.linear(x, dictionary);
        Tensor u = x.add(residual.matmul(dictionary), alpha: step);
        Tensor code = soft_threshold
            ? u.sign().mul(nn.functional.relu(u.abs().sub(shift)))
            : nn.functional.relu(u.sub_(shift));
        return code.MoveToOuterDisposeScope();
    }
}
