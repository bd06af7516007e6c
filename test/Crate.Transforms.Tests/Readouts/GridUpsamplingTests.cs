using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>Issue 9, item 8: the one grid-to-pixel upsampling, against hand-computed cells and PyTorch's nearest.</summary>
[TestClass]
public sealed class GridUpsamplingTests
{
    [TestMethod]
    public void PixelCentresPickTheirCellByHand()
    {
        // ⌊(p + ½)·4/10⌋ for p = 0…9: 0.2, 0.6, 1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.4, 3.8.
        CollectionAssert.AreEqual(new[] { 0, 0, 1, 1, 1, 2, 2, 3, 3, 3 }, GridUpsampling.NearestCells(10, 4));
        // Shrinking works the same way: 3 pixels over 7 cells read cells ⌊(p + ½)·7/3⌋ = 1, 3, 5.
        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, GridUpsampling.NearestCells(3, 7));
    }

    [TestMethod]
    public void AtWholePatchesItIsPyTorchsNearest()
    {
        float[] grid = Enumerable.Range(0, 12).Select(i => (float)i * i).ToArray(); // 3×4
        float[] ours = GridUpsampling.Nearest<float>(grid, 3, 4, 3 * 8, 4 * 8);
        using Tensor torchNearest = nn.functional.interpolate(tensor(grid, [1, 1, 3, 4]), [24, 32], mode: InterpolationMode.Nearest);
        CollectionAssert.AreEqual(torchNearest.flatten().data<float>().ToArray(), ours);
        Assert.ThrowsExactly<ArgumentException>(() => GridUpsampling.Nearest<float>(grid, 4, 4, 8, 8));
    }
}
