using TorchSharp;
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

    /// <summary>Creates a layer of the given variant, initialised from <paramref name="generator"/> (the process-wide
    /// generator when null).</summary>
    public CrateLayer(CrateArchitecture architecture, Generator? generator = null) : base(nameof(CrateLayer))
    {
        int d = architecture.EmbeddingDim;
        CrateVariant variant = architecture.Variant;
        attention_norm = nn.LayerNorm(d);
        attention = variant is CrateVariant.ViT or CrateVariant.CrateMhsa
            ? new MultiHeadSelfAttention(d, architecture.Heads, architecture.HeadDim, generator)
            : new MultiHeadSubspaceSelfAttention(d, architecture.Heads, architecture.HeadDim, generator);
        feedforward_norm = nn.LayerNorm(d);
        feedforward = variant is CrateVariant.ViT or CrateVariant.CrateMlp
            ? new Mlp(d, architecture.MlpRatio, generator)
            : new Ista(d, architecture.IstaStepSize, architecture.IstaLambda, softThreshold: variant == CrateVariant.CrateSoftThreshold, generator);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor half = tokens.Plus(attention.forward(attention_norm.forward(tokens)));
        return Feedforward(half).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The forward pass, also returning what <paramref name="request"/> asks of this layer. The (N+1)×(N+1) attention
    /// is materialised only when <see cref="IntrospectionRequest.Attention"/> asks for it; otherwise the fused kernel
    /// runs and the [CLS] rows (eq. 10) are computed from the [CLS] query alone.
    /// </summary>
    public (Tensor Output, LayerIntrospection Readout) ForwardWithReadout(Tensor tokens, int layerIndex, IntrospectionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = NewDisposeScope();
        Tensor normed = attention_norm.forward(tokens);
        Tensor mixed, clsAttention, features;
        Tensor? attentionMatrix = null;
        if (request.Attention)
        {
            AttentionReadout full = attention.ForwardWithReadout(normed);
            (mixed, attentionMatrix, features, clsAttention) = (full.Output, full.Attention, full.KeyFeatures, full.ClsAttention);
        }
        else
        {
            ClsAttentionReadout rows = attention.ForwardWithClsAttention(normed);
            (mixed, clsAttention, features) = (rows.Output, rows.ClsAttention, rows.KeyFeatures);
        }
        Tensor output = Feedforward(tokens.Plus(mixed));
        var layer = new LayerIntrospection
        {
            Layer = layerIndex,
            Attention = attentionMatrix?.MoveToOuterDisposeScope(),
            ClsAttention = request.ClsAttention ? clsAttention.MoveToOuterDisposeScope() : null,
            HeadFeatures = request.HeadFeatures ? features.MoveToOuterDisposeScope() : null,
            Output = request.LayerOutputs ? output.detach().MoveToOuterDisposeScope() : null,
            IstaZeroFraction = request.Sparsity && feedforward.IsSparseCode
                ? output.eq(0).to_type(ScalarType.Float32).mean(new long[] { 1, 2 }).MoveToOuterDisposeScope()
                : null,
        };
        return (output.MoveToOuterDisposeScope(), layer);
    }

    private Tensor Feedforward(Tensor half)
    {
        Tensor update = feedforward.forward(feedforward_norm.forward(half));
        return feedforward.HasSkip ? half.Plus(update) : update;
    }
}
