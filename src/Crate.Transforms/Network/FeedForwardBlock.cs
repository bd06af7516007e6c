using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// The second block of a layer, which acts on each token alone: ISTA for CRATE (which replaces the token, no
/// skip, eq. 8), or ViT's MLP (which is added to the token through its own skip).
/// </summary>
public abstract class FeedForwardBlock : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the block.</summary>
    protected FeedForwardBlock(string name) : base(name) { }

    /// <summary>True when the layer adds the block's output to its input rather than replacing the input.</summary>
    public abstract bool HasSkip { get; }

    /// <summary>True when the output is a sparse code whose fraction of zeros is worth reporting.</summary>
    public abstract bool IsSparseCode { get; }
}
