using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// How <see cref="CrateCheckpointImporter"/> turns a reference PyTorch CRATE checkpoint into a
/// <see cref="CrateModel"/>. A reference checkpoint records every shape except the head count K, the image
/// size of a non-square grid, the channel count and the pooling; those come from here (or a whole
/// <see cref="Architecture"/> is given and nothing is inferred).
/// </summary>
public sealed record CheckpointImportOptions
{
    /// <summary>The subspace (head) count K. Required unless <see cref="ConfigName"/> or <see cref="Architecture"/> is given.</summary>
    public int? Heads { get; init; }

    /// <summary>A named configuration (Tiny, Small, Base, Large; see <see cref="CrateArchitecture.FromName"/>) that
    /// supplies K; the checkpoint's d, depth and K·p must agree with it.</summary>
    public string? ConfigName { get; init; }

    /// <summary>The exact architecture to build; when given nothing is inferred and the keys are checked against it
    /// (the other shape options are ignored; with <see cref="DropHead"/>, <see cref="ClassCount"/> replaces its class count).</summary>
    public CrateArchitecture? Architecture { get; init; }

    /// <summary>When true (default) any missing, unexpected or mis-shaped key fails the import; when false the
    /// matching weights are loaded and the rest reported.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Leave the checkpoint's head (<c>mlp_head.*</c>: LayerNorm and linear) out and keep a freshly
    /// initialised head of <see cref="ClassCount"/> classes, as the reference does for fine-tuning.</summary>
    public bool DropHead { get; init; }

    /// <summary>The head's class count: required with <see cref="DropHead"/>; otherwise taken from the checkpoint
    /// unless given.</summary>
    public int? ClassCount { get; init; }

    /// <summary>Image height the positional embedding was trained for; needed when the patch grid is not square
    /// (with <see cref="ImageWidth"/>, or alone when the other side follows).</summary>
    public int? ImageHeight { get; init; }

    /// <summary>Image width the positional embedding was trained for; see <see cref="ImageHeight"/>.</summary>
    public int? ImageWidth { get; init; }

    /// <summary>Image channels; 3 (RGB) by default.</summary>
    public int Channels { get; init; } = 3;

    /// <summary>What the head reads. The reference's pool argument is not saved in checkpoints; its default,
    /// and every published model, is <see cref="TokenPooling.Cls"/>.</summary>
    public TokenPooling Pooling { get; init; } = TokenPooling.Cls;

    /// <summary>The layer blocks: <see cref="CrateVariant.Crate"/> or <see cref="CrateVariant.CrateSoftThreshold"/>,
    /// the two variants the reference key layout exists for.</summary>
    public CrateVariant Variant { get; init; } = CrateVariant.Crate;

    /// <summary>Where the returned model lives; the CPU when null.</summary>
    public Device? Device { get; init; }
}
