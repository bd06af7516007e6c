using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// The f⁰ operator's patch part (Algorithm 1, lines 8-10): cut the image into P×P patches, flatten each in
/// (row in patch, column in patch, channel) order as the reference's rearrange does, then LayerNorm, a linear
/// map to d and another LayerNorm.
/// </summary>
public sealed class PatchEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly int patch_size;
    private readonly LayerNorm patch_norm;
    private readonly Linear projection;
    private readonly LayerNorm token_norm;

    /// <summary>Creates the embedding for patches of <paramref name="patchSize"/>² pixels of <paramref name="channels"/> channels,
    /// initialised from <paramref name="generator"/> (the process-wide generator when null).</summary>
    public PatchEmbedding(int patchSize, int channels, int embeddingDim, Generator? generator = null) : base(nameof(PatchEmbedding))
    {
        patch_size = patchSize;
        long patchDim = (long)channels * patchSize * patchSize;
        patch_norm = nn.LayerNorm(patchDim);
        projection = ParameterInitialization.Linear(patchDim, embeddingDim, hasBias: true, generator);
        token_norm = nn.LayerNorm(embeddingDim);
        RegisterComponents();
    }

    /// <summary>Images [B, C, H, W] to patch tokens [B, N, d], N = (H/P)·(W/P) in row-major grid order.</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return token_norm.forward(projection.forward(patch_norm.forward(Patchify(images, patch_size))))
            .MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [B, C, H, W] → [B, h·w, P·P·C]: the reference's rearrange 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'.
    /// </summary>
    public static Tensor Patchify(Tensor images, int patchSize)
    {
        long batch = images.shape[0], channels = images.shape[1];
        long h = images.shape[2] / patchSize, w = images.shape[3] / patchSize;
        return images.view(batch, channels, h, patchSize, w, patchSize)
            .permute(0, 2, 4, 3, 5, 1)
            .reshape(batch, h * w, (long)patchSize * patchSize * channels);
    }
}
