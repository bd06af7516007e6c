using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>What one attention block reveals when asked (Appendix B).</summary>
/// <param name="Output">The block's output [B, N+1, d], before the skip.</param>
/// <param name="Attention">Every head's attention matrix [B, K, N+1, N+1] (rows sum to 1).</param>
/// <param name="KeyFeatures">The per-head projections concatenated, [B, N+1, K·p]: U_k*z for MSSA, the keys K_k*z for ViT.</param>
public sealed record AttentionReadout(Tensor Output, Tensor Attention, Tensor KeyFeatures);

/// <summary>
/// The first block of a layer, which mixes tokens: MSSA for CRATE, multi-head self-attention for ViT.
/// <see cref="nn.Module{T,TResult}.forward"/> is the fast path; <see cref="ForwardWithReadout"/> also returns the
/// attention and the head features at the cost of materialising them.
/// </summary>
public abstract class SelfAttentionBlock : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the block.</summary>
    protected SelfAttentionBlock(string name) : base(name) { }

    /// <summary>The forward pass with its attention matrices and head features.</summary>
    public abstract AttentionReadout ForwardWithReadout(Tensor tokens);

    /// <summary>[B, N, K·p] → [B, K, N, p].</summary>
    protected static Tensor SplitHeads(Tensor x, int heads) =>
        x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2);

    /// <summary>[B, K, N, p] → [B, N, K·p].</summary>
    protected static Tensor MergeHeads(Tensor x) =>
        x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1);
}
