using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>ViT's token-wise MLP: Linear(d → r·d), GELU, Linear(r·d → d); added through its own skip.</summary>
public sealed class Mlp : FeedForwardBlock
{
    private readonly Linear hidden;
    private readonly Linear output;

    /// <summary>Creates the MLP with hidden width <paramref name="ratio"/>·d, initialised from <paramref name="generator"/>
    /// (the process-wide generator when null).</summary>
    public Mlp(int embeddingDim, int ratio, Generator? generator = null) : base("MLP")
    {
        hidden = ParameterInitialization.Linear(embeddingDim, (long)embeddingDim * ratio, hasBias: true, generator);
        output = ParameterInitialization.Linear((long)embeddingDim * ratio, embeddingDim, hasBias: true, generator);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override bool HasSkip => true;

    /// <inheritdoc />
    public override bool IsSparseCode => false;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return output.forward(nn.functional.gelu(hidden.forward(x))).MoveToOuterDisposeScope();
    }
}
