using TorchSharp;
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

    /// <summary>Creates MHSA with <paramref name="heads"/> heads of dimension <paramref name="headDim"/>, initialised from
    /// <paramref name="generator"/> (the process-wide generator when null).</summary>
    public MultiHeadSelfAttention(int embeddingDim, int heads, int headDim, Generator? generator = null) : base("MHSA")
    {
        this.heads = heads;
        scale = Math.Pow(headDim, -0.5);
        long inner = (long)heads * headDim;
        query = ParameterInitialization.Linear(embeddingDim, inner, hasBias: true, generator);
        key = ParameterInitialization.Linear(embeddingDim, inner, hasBias: true, generator);
        value = ParameterInitialization.Linear(embeddingDim, inner, hasBias: true, generator);
        output_projection = ParameterInitialization.Linear(inner, embeddingDim, hasBias: true, generator);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return Mix(SplitHeads(query.forward(tokens), heads), SplitHeads(key.forward(tokens), heads), tokens).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override ClsAttentionReadout ForwardWithClsAttention(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor keys = key.forward(tokens);
        Tensor q = SplitHeads(query.forward(tokens), heads), k = SplitHeads(keys, heads);
        return new ClsAttentionReadout(Mix(q, k, tokens).MoveToOuterDisposeScope(), ClsRowOverPatches(q, k, scale).MoveToOuterDisposeScope(),
            keys.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public override AttentionReadout ForwardWithReadout(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor keys = key.forward(tokens);
        Tensor q = SplitHeads(query.forward(tokens), heads), k = SplitHeads(keys, heads);
        using Scalar held = scale.ToScalar(); // held for the call (HeldScalars)
        Tensor attention = q.matmul(k.transpose(-1, -2)).mul_(held).softmax(-1);
        Tensor output = output_projection.forward(MergeHeads(attention.matmul(SplitHeads(value.forward(tokens), heads))));
        return new AttentionReadout(output.MoveToOuterDisposeScope(), attention.MoveToOuterDisposeScope(),
            keys.MoveToOuterDisposeScope(), ClsRowOverPatches(q, k, scale).MoveToOuterDisposeScope());
    }

    /// <summary>softmax(q kᵀ/√p) v by the fused kernel, mapped back to d.</summary>
    private Tensor Mix(Tensor q, Tensor k, Tensor tokens) =>
        output_projection.forward(MergeHeads(nn.functional.scaled_dot_product_attention(q, k, SplitHeads(value.forward(tokens), heads))));
}
