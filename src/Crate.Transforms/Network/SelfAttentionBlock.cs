using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>What one attention block reveals when its full attention is asked for (Appendix B).</summary>
/// <param name="Output">The block's output [B, N+1, d], before the skip.</param>
/// <param name="Attention">Every head's attention matrix [B, K, N+1, N+1] (rows sum to 1).</param>
/// <param name="KeyFeatures">The per-head projections concatenated, [B, N+1, K·p]: U_k*z for MSSA, the keys K_k*z for ViT.</param>
/// <param name="ClsAttention">Every head's [CLS] row over the patches, eq. (10), [B, K, N].</param>
public sealed record AttentionReadout(Tensor Output, Tensor Attention, Tensor KeyFeatures, Tensor ClsAttention);

/// <summary>What one attention block reveals without its N×N matrices: the [CLS] row and the head features.</summary>
/// <param name="Output">The block's output [B, N+1, d], before the skip.</param>
/// <param name="ClsAttention">Every head's [CLS] row over the patches, eq. (10), [B, K, N].</param>
/// <param name="KeyFeatures">The per-head projections concatenated, [B, N+1, K·p].</param>
public sealed record ClsAttentionReadout(Tensor Output, Tensor ClsAttention, Tensor KeyFeatures);

/// <summary>
/// The first block of a layer, which mixes tokens: MSSA for CRATE, multi-head self-attention for ViT.
/// <see cref="nn.Module{T,TResult}.forward"/> is the fast path; <see cref="ForwardWithClsAttention"/> adds the
/// [CLS] rows and head features at the cost of one extra row per head; <see cref="ForwardWithReadout"/> also
/// materialises every head's (N+1)×(N+1) attention.
/// </summary>
public abstract class SelfAttentionBlock : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the block.</summary>
    protected SelfAttentionBlock(string name) : base(name) { }

    /// <summary>The forward pass with its attention matrices, [CLS] rows and head features.</summary>
    public abstract AttentionReadout ForwardWithReadout(Tensor tokens);

    /// <summary>The forward pass (fused kernel, no N×N matrix) with the [CLS] rows and the head features.</summary>
    public abstract ClsAttentionReadout ForwardWithClsAttention(Tensor tokens);

    /// <summary>
    /// Eq. (10) from the [CLS] query alone: softmax over the patches j of ⟨q_cls, k_j⟩·scale, [B, K, N]. This is row 0
    /// of softmax(q kᵀ·scale) restricted to the patch columns and renormalised (the renormalisation cancels the
    /// [CLS] column's share of the denominator), at the cost of one row instead of N+1.
    /// </summary>
    /// <param name="queries">[B, K, N+1, p], [CLS] first.</param>
    /// <param name="keys">[B, K, N+1, p], [CLS] first.</param>
    /// <param name="scale">The attention's scale, p^-½.</param>
    protected static Tensor ClsRowOverPatches(Tensor queries, Tensor keys, double scale)
    {
        using var scope = NewDisposeScope();
        Tensor cls = queries.narrow(2, 0, 1);                                   // [B, K, 1, p]
        Tensor patches = keys.narrow(2, 1, keys.shape[2] - 1);                  // [B, K, N, p]
        using Scalar held = scale.ToScalar(); // held for the call (HeldScalars)
        Tensor scores = cls.matmul(patches.transpose(-1, -2)).squeeze(2).mul_(held);
        return scores.softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>[B, N, K·p] → [B, K, N, p].</summary>
    protected static Tensor SplitHeads(Tensor x, int heads) =>
        x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2);

    /// <summary>[B, K, N, p] → [B, N, K·p].</summary>
    protected static Tensor MergeHeads(Tensor x) =>
        x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1);
}
