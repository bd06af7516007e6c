using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// Resizing a learned positional embedding to another patch grid, so a model trained at one resolution runs
/// at another (segmentation reads larger images than training used). The patch positions are treated as a
/// d-channel h₀×w₀ image and resized bicubically (align_corners false); the [CLS] position is kept.
/// </summary>
public static class PositionalEmbedding
{
    /// <summary>[1, h₀·w₀+1, d] on grid h₀×w₀ → [1, h·w+1, d]; returns the input itself when the grids match.</summary>
    public static Tensor Resize(Tensor embedding, int fromHeight, int fromWidth, int toHeight, int toWidth)
    {
        if (fromHeight == toHeight && fromWidth == toWidth)
            return embedding;
        long d = embedding.shape[2];
        using var scope = NewDisposeScope();
        Tensor cls = embedding.narrow(1, 0, 1);
        Tensor grid = embedding.narrow(1, 1, (long)fromHeight * fromWidth)
            .reshape(1, fromHeight, fromWidth, d).permute(0, 3, 1, 2);
        Tensor resized = nn.functional.interpolate(grid, size: new long[] { toHeight, toWidth },
            mode: InterpolationMode.Bicubic, align_corners: false);
        Tensor patches = resized.permute(0, 2, 3, 1).reshape(1, (long)toHeight * toWidth, d);
        return cat(new[] { cls, patches }, 1).MoveToOuterDisposeScope();
    }
}
