using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// ISTA, the sparsification step of CRATE (eq. 7): one proximal-gradient step of the non-negative LASSO
/// against the dictionary D, z⁺ = ReLU(x + η·Dᵀ(x − Dx) − ηλ). With tokens as rows the step is linear in x:
/// x + η·(x·D − x·Dᵀ·D) = x·M with M = I + η·(D − Dᵀ·D). Making M costs 2d³ per pass and then each token one d×d
/// product (2d²), against two products per token (4d²) for (x − x·Dᵀ)·D; so a pass with more tokens than d multiplies
/// by M, a smaller one (a single small image) takes the two products. Either is cheaper than the reference's three
/// (x·D, x·Dᵀ, then ·D), and autograd carries the gradient through M to D unchanged.
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
        using Scalar step = step_size.ToScalar(), shift = threshold.ToScalar(); // held for the calls (HeldScalars)
        long tokens = x.numel() / dictionary.shape[0];
        Tensor u = tokens > dictionary.shape[0]
            ? x.matmul(StepMatrix(step))
            : x.add((x - nn.functional.linear(x, dictionary)).matmul(dictionary), alpha: step);
        Tensor code = soft_threshold
            ? u.sign().mul(nn.functional.relu(u.abs().sub(shift)))
            : nn.functional.relu(u.sub_(shift));
        return code.MoveToOuterDisposeScope();
    }

    /// <summary>M = I + η·(D − Dᵀ·D), [d, d]: the proximal step's linear part, u = x·M.</summary>
    private Tensor StepMatrix(Scalar step)
    {
        Tensor gradientStep = dictionary - dictionary.t().matmul(dictionary);
        return eye(dictionary.shape[0], dtype: dictionary.dtype, device: dictionary.device).add_(gradientStep, alpha: step);
    }
}
