namespace Crate.Transforms.Network;

/// <summary>
/// Floating-point operations of one forward pass, counted from the shapes: the matrix products only (a
/// multiply-add is 2 FLOPs); LayerNorm, softmax and element-wise work are left out, as is usual for FLOP
/// counts of transformers. Used to report achieved GFLOP/s next to the machine's matrix-product rate.
/// </summary>
public static class CrateFlops
{
    /// <summary>FLOPs to classify one image of <paramref name="imageHeight"/>×<paramref name="imageWidth"/> in passes of
    /// <paramref name="imagesPerPass"/> images: ISTA's form, and the share of its per-pass matrix M, depend on how many
    /// tokens a pass holds (see <see cref="Ista"/>).</summary>
    public static double ForwardPerImage(CrateArchitecture architecture, int imageHeight, int imageWidth, int imagesPerPass)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(imagesPerPass, 1);
        ArgumentNullException.ThrowIfNull(architecture);
        double d = architecture.EmbeddingDim, inner = architecture.InnerDim;
        double patches = (double)(imageHeight / architecture.PatchSize) * (imageWidth / architecture.PatchSize);
        double tokens = patches + 1;
        double embedding = 2 * patches * architecture.PatchDim * d;

        bool separateQueryKeyValue = architecture.Variant is CrateVariant.ViT or CrateVariant.CrateMhsa;
        bool hasOutputMap = separateQueryKeyValue || !(architecture.Heads == 1 && architecture.HeadDim == architecture.EmbeddingDim);
        double projections = (separateQueryKeyValue ? 3 : 1) * 2 * tokens * d * inner;
        double attention = 2 * 2 * tokens * tokens * inner; // scores w wᵀ and the mixture A w, over all heads
        double output = hasOutputMap ? 2 * tokens * inner * d : 0;

        bool mlp = architecture.Variant is CrateVariant.ViT or CrateVariant.CrateMlp;
        double feedforward = mlp
            ? 2 * 2 * tokens * d * (architecture.MlpRatio * d)
            : imagesPerPass * tokens > d
                ? 2 * tokens * d * d + 2 * d * d * d / imagesPerPass // x·M, and this image's share of M = I + η·(D − Dᵀ·D)
                : 2 * 2 * tokens * d * d; // the two products (x − x·Dᵀ)·D

        double head = 2 * d * architecture.ClassCount;
        return embedding + architecture.Depth * (projections + attention + output + feedforward) + head;
    }
}
