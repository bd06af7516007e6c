using Crate.Transforms.Network;

namespace Crate.Transforms.Tests.Network;

[TestClass]
public sealed class CrateFlopsTests
{
    // d 4, one layer, 2 heads of 2, patch 2 on a 4×2 image (N = 2 patches, T = 3 tokens), 3 channels, 5 classes.
    private static readonly CrateArchitecture Tiny = new()
    {
        EmbeddingDim = 4, Depth = 1, Heads = 2, HeadDim = 2, PatchSize = 2, ImageHeight = 4, ImageWidth = 2, ClassCount = 5,
    };

    [TestMethod]
    public void CrateCountIsTheSumOfItsMatrixProductsByHand()
    {
        // patch embedding 2·N·12·d = 192; U*z 2·T·d·Kp = 96; w wᵀ and A w 2·2·T²·Kp = 144; output map 96; head 2·d·C = 40.
        // One image is T = 3 tokens, fewer than d = 4: ISTA's two products 2·2·T·d² = 192.
        Assert.AreEqual(760.0, CrateFlops.ForwardPerImage(Tiny, 4, 2, imagesPerPass: 1));
        // Two images are 6 tokens, more than d: one product x·M 2·T·d² = 96, and half of M's Dᵀ·D 2·d³/2 = 64.
        Assert.AreEqual(728.0, CrateFlops.ForwardPerImage(Tiny, 4, 2, imagesPerPass: 2));
    }

    [TestMethod]
    public void VitCountsThreeProjectionsAndTheMlp()
    {
        // q, k, v 3·96 = 288; MLP 2·2·T·d·4d = 768; the rest as for CRATE.
        Assert.AreEqual(1528.0, CrateFlops.ForwardPerImage(Tiny with { Variant = CrateVariant.ViT }, 4, 2, imagesPerPass: 2));
    }
}
