using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// ViT's multi-head self-attention: separate query, key and value projections (with bias), softmax(q kᵀ/√p) v
/// per head, then an output map. Used by the ViT and CRATE-MHSA variants; its attention is eq. (11)'s.
/// </summary>
public sealed class MultiHeadSelfAttention : SelfAttentionBlock
{
    private readonly int heads;
    private readonly double scale;
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly Linear output_projection;

    /// <summary>Creates MHSA with <paramref name="heads"/> heads of dimension <paramref name="headDim"/>.</summary>
    public MultiHeadSelfAttention(int embeddingDim, int heads, int headDim) : base("MHSA")
    {
        this.heads = heads;
        scale = Math.Pow(headDim, -0.5);
        long inner = (long)heads * headDim;
        query = nn.Linear(embeddingDim, inner);
        key = nn.Linear(embeddingDim, inner);
        value = nn.Linear(embeddingDim, inner);
        output_projection = nn.Linear(inner, embeddingDim);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor mixed = nn.functional.scaled_dot_product_attention(
            SplitHeads(query.forward(tokens), heads), SplitHeads(key.forward(tokens), heads), SplitHeads(value.forward(tokens), heads));
        return output_projection.forward(MergeHeads(mixed)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override AttentionReadout ForwardWithReadout(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor keys = key.forward(tokens);
        Tensor q = SplitHeads(query.forward(tokens), heads);
        Tensor attention = q.matmul(SplitHeads(keys, heads).transpose(-1, -2)).mul_(scale).softmax(-1);
        Tensor output = output_projection.forward(MergeHeads(attention.matmul(SplitHeads(value.forward(tokens), heads))));
        return new AttentionReadout(output.MoveToOuterDisposeScope(), attention.MoveToOuterDisposeScope(),
            keys.MoveToOuterDisposeScope());
    }
}
