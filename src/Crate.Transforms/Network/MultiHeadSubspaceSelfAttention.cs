using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// MSSA, the compression step of CRATE (eq. 5): one projection U_k per head serves as query, key and value, so
/// head k attends with softmax((U_k*z)ᵀ(U_k*z)·p^-½) and returns that mixture of U_k*z; the heads are then
/// mapped back to d. As in the reference, the output map is absent when K = 1 and p = d.
/// </summary>
public sealed class MultiHeadSubspaceSelfAttention : SelfAttentionBlock
{
    private readonly int heads;
    private readonly double scale;
    private readonly Linear subspace_bases;
    private readonly Linear? output_projection;

    /// <summary>Creates MSSA with <paramref name="heads"/> subspaces of dimension <paramref name="headDim"/>, initialised
    /// from <paramref name="generator"/> (the process-wide generator when null).</summary>
    public MultiHeadSubspaceSelfAttention(int embeddingDim, int heads, int headDim, Generator? generator = null) : base("MSSA")
    {
        this.heads = heads;
        scale = Math.Pow(headDim, -0.5);
        subspace_bases = ParameterInitialization.Linear(embeddingDim, (long)heads * headDim, hasBias: false, generator);
        if (!(heads == 1 && headDim == embeddingDim))
            output_projection = ParameterInitialization.Linear((long)heads * headDim, embeddingDim, hasBias: true, generator);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return Mix(SplitHeads(subspace_bases.forward(tokens), heads)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override ClsAttentionReadout ForwardWithClsAttention(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor features = subspace_bases.forward(tokens);
        Tensor w = SplitHeads(features, heads);
        return new ClsAttentionReadout(Mix(w).MoveToOuterDisposeScope(), ClsRowOverPatches(w, w, scale).MoveToOuterDisposeScope(),
            features.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public override AttentionReadout ForwardWithReadout(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor features = subspace_bases.forward(tokens);
        Tensor w = SplitHeads(features, heads);
        using Scalar held = scale.ToScalar(); // held for the call (HeldScalars)
        Tensor attention = w.matmul(w.transpose(-1, -2)).mul_(held).softmax(-1);
        Tensor output = Project(MergeHeads(attention.matmul(w)));
        return new AttentionReadout(output.MoveToOuterDisposeScope(), attention.MoveToOuterDisposeScope(),
            features.MoveToOuterDisposeScope(), ClsRowOverPatches(w, w, scale).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// softmax(w wᵀ/√p) w per head, mapped back to d. Query, key and value are the same projection; the fused kernel
    /// computes it without materialising the N×N matrix.
    /// </summary>
    private Tensor Mix(Tensor w) => Project(MergeHeads(nn.functional.scaled_dot_product_attention(w, w, w)));

    private Tensor Project(Tensor merged) => output_projection is null ? merged : output_projection.forward(merged);
}
