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

    /// <summary>Creates MSSA with <paramref name="heads"/> subspaces of dimension <paramref name="headDim"/>.</summary>
    public MultiHeadSubspaceSelfAttention(int embeddingDim, int heads, int headDim) : base("MSSA")
    {
        this.heads = heads;
        scale = Math.Pow(headDim, -0.5);
        subspace_bases = nn.Linear(embeddingDim, (long)heads * headDim, hasBias: false);
        if (!(heads == 1 && headDim == embeddingDim))
            output_projection = nn.Linear((long)heads * headDim, embeddingDim);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor w = SplitHeads(subspace_bases.forward(tokens), heads);
        // Query, key and value are the same projection; the fused kernel computes softmax(w wᵀ/√p) w
        // without materialising the N×N matrix.
        Tensor mixed = nn.functional.scaled_dot_product_attention(w, w, w);
        return Project(MergeHeads(mixed)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override AttentionReadout ForwardWithReadout(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor features = subspace_bases.forward(tokens);
        Tensor w = SplitHeads(features, heads);
        Tensor attention = w.matmul(w.transpose(-1, -2)).mul_(scale).softmax(-1);
        Tensor output = Project(MergeHeads(attention.matmul(w)));
        return new AttentionReadout(output.MoveToOuterDisposeScope(), attention.MoveToOuterDisposeScope(),
            features.MoveToOuterDisposeScope());
    }

    private Tensor Project(Tensor merged) => output_projection is null ? merged : output_projection.forward(merged);
}
