using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// Which read-outs <see cref="CrateModel.Introspect"/> keeps. Everything not asked for is never materialised,
/// and plain <see cref="CrateModel"/> forward passes pay nothing.
/// </summary>
public sealed record IntrospectionRequest
{
    /// <summary>Layer indices (0-based) to read; null for every layer.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>Every head's full token-token attention [B, K, N+1, N+1]. Default false.</summary>
    public bool Attention { get; init; }

    /// <summary>Every head's [CLS] row over the patches, renormalised (eq. 10), [B, K, N]. Default true.</summary>
    public bool ClsAttention { get; init; } = true;

    /// <summary>The head projections [B, N+1, K·p]: U_k*z for CRATE (what PCA and MaskCut read), keys for ViT. Default false.</summary>
    public bool HeadFeatures { get; init; }

    /// <summary>Each layer's output tokens [B, N+1, d]. Default false.</summary>
    public bool LayerOutputs { get; init; }

    /// <summary>The fraction of zeros in each image's ISTA output, [B] (ISTA variants only). Default true.</summary>
    public bool Sparsity { get; init; } = true;

    /// <summary>Every read-out of every layer.</summary>
    public static IntrospectionRequest Everything { get; } = new()
    {
        Attention = true, ClsAttention = true, HeadFeatures = true, LayerOutputs = true, Sparsity = true,
    };
}

/// <summary>The read-outs of one layer; a tensor is null when it was not requested (or, for sparsity, when the
/// layer has no ISTA block).</summary>
public sealed class LayerIntrospection : IDisposable
{
    /// <summary>The layer index, 0-based.</summary>
    public required int Layer { get; init; }

    /// <summary>Full attention [B, K, N+1, N+1].</summary>
    public Tensor? Attention { get; init; }

    /// <summary>[CLS] attention over the patches, renormalised (eq. 10), [B, K, N].</summary>
    public Tensor? ClsAttention { get; init; }

    /// <summary>Head projections [B, N+1, K·p].</summary>
    public Tensor? HeadFeatures { get; init; }

    /// <summary>The layer's output tokens [B, N+1, d].</summary>
    public Tensor? Output { get; init; }

    /// <summary>Fraction of exact zeros in each image's ISTA output, [B].</summary>
    public Tensor? IstaZeroFraction { get; init; }

    /// <inheritdoc />
    public void Dispose()
    {
        Attention?.Dispose();
        ClsAttention?.Dispose();
        HeadFeatures?.Dispose();
        Output?.Dispose();
        IstaZeroFraction?.Dispose();
    }
}

/// <summary>The result of one introspecting forward pass: the logits and the requested layers' read-outs.</summary>
public sealed class CrateIntrospection : IDisposable
{
    /// <summary>Class scores [B, C] (before softmax).</summary>
    public required Tensor Logits { get; init; }

    /// <summary>Read-outs of the requested layers, in increasing layer order.</summary>
    public required IReadOnlyList<LayerIntrospection> Layers { get; init; }

    /// <summary>Patch rows h of the grid the images were cut into.</summary>
    public required int GridHeight { get; init; }

    /// <summary>Patch columns w of the grid the images were cut into.</summary>
    public required int GridWidth { get; init; }

    /// <summary>The read-outs of layer <paramref name="layer"/>; throws when it was not requested.</summary>
    public LayerIntrospection ForLayer(int layer) =>
        Layers.FirstOrDefault(l => l.Layer == layer)
        ?? throw new ArgumentOutOfRangeException(nameof(layer), layer,
            $"Layer {layer} was not introspected; requested layers: {string.Join(", ", Layers.Select(l => l.Layer))}.");

    /// <inheritdoc />
    public void Dispose()
    {
        Logits.Dispose();
        foreach (LayerIntrospection layer in Layers) layer.Dispose();
    }
}
