using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// The MaskCut patch graph (spec, "MaskCut (CutLER), as used in the paper"): A_ij = 1 where the cosine similarity of
/// the L2-normalised features exceeds τ, else ε = 1e-5; D = diag(row sums of A). Stored as the 0/1 matrix B of the
/// above-τ pairs of the original features and a 0/1 vector a of the patches whose features are still in place, since
/// A = ε·11ᵀ + (1 − ε)·diag(a)·B·diag(a): a product with A is one product with B plus a rank-one term, zeroing
/// features costs O(N) instead of a pass over B, and B is exact in float32 (half the memory traffic of float64).
/// </summary>
internal sealed class AffinityGraph : IDisposable
{
    /// <summary>The affinity of pairs at or below τ (CutLER's eps).</summary>
    internal const double Epsilon = 1e-5;

    private readonly Tensor _above;
    private readonly Tensor _active;
    private Tensor _counts;
    private Tensor _degrees;
    private Tensor _inverseSqrtDegrees;

    private AffinityGraph(Tensor above)
    {
        _above = above;
        Count = (int)above.shape[0];
        _active = ones(Count, ScalarType.Float32, above.device).DetachFromDisposeScope();
        (_counts, _degrees, _inverseSqrtDegrees) = ComputeDegrees();
    }

    /// <summary>Number of patches N.</summary>
    public int Count { get; }

    /// <summary>The degrees d = A·1, float64 [N].</summary>
    public Tensor Degrees => _degrees;

    /// <summary>D^-½ as a float64 vector [N]; every degree is at least N·ε, so it is finite.</summary>
    public Tensor InverseSqrtDegrees => _inverseSqrtDegrees;

    /// <summary>Builds the graph of features [N, D]. A zero feature stays zero under the normalisation (the division is
    /// guarded by torch's eps), so its cosine with everything is 0 and, as τ ≥ 0, all its affinities are ε.</summary>
    public static AffinityGraph FromFeatures(Tensor features, double threshold)
    {
        Tensor above;
        using (var scope = NewDisposeScope())
        {
            Tensor input = features.dtype is ScalarType.Float32 or ScalarType.Float64 ? features : features.to_type(ScalarType.Float32);
            Tensor unit = nn.functional.normalize(input, p: 2, dim: 1);
            // Thresholded in place: the N×N Gram matrix is the largest allocation, so no second one. The graph owns
            // its tensors and disposes them; no caller's dispose scope may take them.
            above = unit.matmul(unit.t()).gt_(threshold).to_type(ScalarType.Float32).DetachFromDisposeScope();
        }
        return new AffinityGraph(above);
    }

    /// <summary>Sets the features of <paramref name="patches"/> to zero, as MaskCut does with the patches a kept mask
    /// took: from now on their affinities are all ε (τ ≥ 0 &gt; their cosine 0).</summary>
    public void ZeroFeatures(BinaryMask patches)
    {
        using (var scope = NewDisposeScope())
            _active.mul_(tensor(patches.Cells.ToArray(), device: _active.device).logical_not());
        _counts.Dispose();
        _degrees.Dispose();
        _inverseSqrtDegrees.Dispose();
        (_counts, _degrees, _inverseSqrtDegrees) = ComputeDegrees();
    }

    /// <summary>The patches with no above-τ affinity, not even to themselves (zeroed or zero features): their rows of
    /// A are ε throughout, all identical.</summary>
    public bool[] IsolatedPatches()
    {
        using var scope = NewDisposeScope();
        return _counts.eq(0).cpu().data<bool>().ToArray();
    }

    /// <summary>A·y for float64 y [N].</summary>
    private Tensor Affinity(Tensor y)
    {
        using var scope = NewDisposeScope();
        Tensor aboveTimes = _active * _above.mv(_active * y.to_type(ScalarType.Float32));
        using Scalar keep = (1 - Epsilon).ToScalar(), floor = Epsilon.ToScalar(); // held for the calls (HeldScalars)
        return aboveTimes.to_type(ScalarType.Float64).mul_(keep).Plus(y.sum().mul_(floor)).MoveToOuterDisposeScope();
    }

    /// <summary>M·x with M = D^-½ A D^-½, the normalized affinity (L_sym = I − M), for float64 x [N].</summary>
    public Tensor NormalizedAffinity(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (_inverseSqrtDegrees * Affinity(_inverseSqrtDegrees * x)).MoveToOuterDisposeScope();
    }

    /// <summary>The dense normalized Laplacian L_sym = I − D^-½ A D^-½, float64 [N, N].</summary>
    public Tensor NormalizedLaplacian()
    {
        using var scope = NewDisposeScope();
        Tensor active = _active.to_type(ScalarType.Float64);
        using Scalar keep = (1 - Epsilon).ToScalar(), floor = Epsilon.ToScalar(); // held for the calls (HeldScalars)
        Tensor affinity = (_above.to_type(ScalarType.Float64) * active.outer(active)).mul_(keep).add_(floor, HeldScalars.One);
        Tensor scaled = _inverseSqrtDegrees.unsqueeze(1) * affinity * _inverseSqrtDegrees.unsqueeze(0);
        return (eye(Count, dtype: ScalarType.Float64, device: _above.device) - scaled).MoveToOuterDisposeScope();
    }

    /// <summary>Ncut(S) = cut(S, S̄)/vol(S) + cut(S, S̄)/vol(S̄) (Shi and Malik), in [0, 2]; a term whose volume is 0
    /// (an empty side) counts 0.</summary>
    public double NormalizedCut(BinaryMask mask)
    {
        using var scope = NewDisposeScope();
        Tensor inside = tensor(mask.Cells.ToArray(), device: _above.device).to_type(ScalarType.Float64);
        // A 0/1 vector times B sums integers ≤ N: exact in float32.
        double cut = inside.dot(Affinity(1 - inside)).item<double>();
        double volumeInside = inside.dot(_degrees).item<double>();
        double volumeOutside = _degrees.sum().item<double>() - volumeInside;
        return (volumeInside > 0 ? cut / volumeInside : 0) + (volumeOutside > 0 ? cut / volumeOutside : 0);
    }

    private (Tensor Counts, Tensor Degrees, Tensor InverseSqrt) ComputeDegrees()
    {
        using var scope = NewDisposeScope();
        // Above-τ neighbours per patch: integers ≤ N, exact in float32. d_i = count_i + ε·(N − count_i).
        Tensor counts = (_active * _above.mv(_active)).to_type(ScalarType.Float64);
        // Scalars held for the whole call (HeldScalars): this failed once as "Unknown scalar type" in CI.
        using Scalar keep = (1 - Epsilon).ToScalar(), floor = (Count * Epsilon).ToScalar();
        Tensor degrees = counts.mul(keep).add(floor, HeldScalars.One);
        return (counts.DetachFromDisposeScope(), degrees.DetachFromDisposeScope(), degrees.rsqrt().DetachFromDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _above.Dispose();
        _active.Dispose();
        _counts.Dispose();
        _degrees.Dispose();
        _inverseSqrtDegrees.Dispose();
    }
}
