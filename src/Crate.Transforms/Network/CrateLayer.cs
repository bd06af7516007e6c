using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// One layer f^ℓ (eq. 8): z^{ℓ+½} = z^ℓ + MSSA(LN(z^ℓ)), then z^{ℓ+1} = ISTA(LN(z^{ℓ+½})). The skip adds the raw
/// z^ℓ, as the reference code does (the paper's Algorithm 3 prints LN(z^ℓ)). For ablations the attention may be
/// ViT's MHSA and the second block ViT's MLP, which brings its own skip.
/// </summary>
public sealed class CrateLayer : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm attention_norm;
    private readonly SelfAttentionBlock attention;
    private readonly LayerNorm feedforward_norm;
    private readonly FeedForwardBlock feedforward;

    /// <summary>Creates a layer of the given variant.</summary>
    public CrateLayer(CrateArchitecture architecture) : base(nameof(CrateLayer))
    {
        int d = architecture.EmbeddingDim;
        CrateVariant variant = architecture.Variant;
        attention_norm = nn.LayerNorm(d);
        attention = variant is CrateVariant.ViT or CrateVariant.CrateMhsa
            ? new MultiHeadSelfAttention(d, architecture.Heads, architecture.HeadDim)
            : new MultiHeadSubspaceSelfAttention(d, architecture.Heads, architecture.HeadDim);
        feedforward_norm = nn.LayerNorm(d);
        feedforward = variant is CrateVariant.ViT or CrateVariant.CrateMlp
            ? new Mlp(d, architecture.MlpRatio)
            : new Ista(d, architecture.IstaStepSize, architecture.IstaLambda, softThreshold: variant == CrateVariant.CrateSoftThreshold);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor half = tokens + attention.forward(attention_norm.forward(tokens));
        return Feedforward(half).MoveToOuterDisposeScope();
    }

    /// <summary>The forward pass, also returning what <paramref name="request"/> asks of this layer.</summary>
    public (Tensor Output, LayerIntrospection Readout) ForwardWithReadout(Tensor tokens, int layerIndex, IntrospectionRequest request)
    {
        using var scope = NewDisposeScope();
        AttentionReadout readout = attention.ForwardWithReadout(attention_norm.forward(tokens));
        Tensor half = tokens + readout.Output;
        Tensor output = Feedforward(half);
        var layer = new LayerIntrospection
        {
            Layer = layerIndex,
            Attention = request.Attention ? readout.Attention.MoveToOuterDisposeScope() : null,
            ClsAttention = request.ClsAttention ? ClsAttentionOverPatches(readout.Attention).MoveToOuterDisposeScope() : null,
            HeadFeatures = request.HeadFeatures ? readout.KeyFeatures.MoveToOuterDisposeScope() : null,
            Output = request.LayerOutputs ? output.detach().MoveToOuterDisposeScope() : null,
            IstaZeroFraction = request.Sparsity && feedforward.IsSparseCode
                ? output.eq(0).to_type(ScalarType.Float32).mean(new long[] { 1, 2 }).MoveToOuterDisposeScope()
                : null,
        };
        return (output.MoveToOuterDisposeScope(), layer);
    }

    /// <summary>
    /// Eq. (10): row 0 of the attention restricted to the patch columns and renormalised over them,
    /// [B, K, N+1, N+1] → [B, K, N].
    /// </summary>
    public static Tensor ClsAttentionOverPatches(Tensor attention)
    {
        Tensor clsRow = attention.select(2, 0).narrow(-1, 1, attention.shape[3] - 1);
        return clsRow / clsRow.sum(-1, keepdim: true);
    }

    private Tensor Feedforward(Tensor half)
    {
        Tensor update = feedforward.forward(feedforward_norm.forward(half));
        return feedforward.HasSkip ? half + update : update;
    }
}
