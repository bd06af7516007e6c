using Crate.Testing;
using Crate.Trainers.Augmentation;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests.Augmentation;

[TestClass]
public sealed class AugmentationTests
{
    [TestMethod]
    public void CropBoxesRespectScaleAndRatio()
    {
        var augmenter = new ImageAugmenter(new AugmentationOptions(), seed: 1);
        for (int i = 0; i < 200; i++)
        {
            SplitMix64 random = SplitMix64.For(1, 0, i);
            CropBox box = augmenter.SampleCrop(64, 48, ref random);
            Assert.IsTrue(box.Top >= 0 && box.Left >= 0 && box.Top + box.Height <= 64 && box.Left + box.Width <= 48, box.ToString());
            double area = (double)box.Height * box.Width / (64 * 48), ratio = (double)box.Width / box.Height;
            // Rounding to whole pixels moves area and ratio slightly off the sampled values.
            Assert.IsTrue(area > 0.06 && area <= 1.0, $"area {area}");
            Assert.IsTrue(ratio > 0.70 && ratio < 1.45, $"ratio {ratio}");
        }
    }

    [TestMethod]
    public void ResizedCropOfALinearRampIsTheRampOfTheBox()
    {
        // Pixel value = column index. Bilinear resampling (align_corners false) of a ramp is the ramp again:
        // output column j samples input column left + (j + ½)·w/W − ½, away from the borders.
        const int size = 32;
        Tensor ramp = arange(size, dtype: ScalarType.Float32).repeat(1, 3, size, 1);
        var box = new CropBox(Top: 4, Left: 6, Height: 16, Width: 16);
        Tensor output = ImageAugmenter.ResizedCrop(ramp, box, size, size);
        for (int j = 4; j < size - 4; j++)
        {
            double expected = box.Left + (j + 0.5) * box.Width / size - 0.5;
            // Bilinear weights and values ≤ 32 in float32: a few roundings of ≤ 32·u ≈ 2e-6 each.
            NumericAssert.AreClose(expected, output[0, 1, 10, j].item<float>(), new Tolerance(2e-5), $"column {j}");
        }
    }

    [TestMethod]
    public void FlipReversesColumnsAndDrawsAreStateless()
    {
        var flipOnly = new ImageAugmenter(new AugmentationOptions { RandomResizedCrop = false }, seed: 9);
        Tensor images = randn(16, 3, 5, 7);
        Tensor once = flipOnly.Apply(images, epoch: 2, firstRow: 100);
        int flipped = 0;
        for (int i = 0; i < 16; i++)
        {
            bool same = once[i].allclose(images[i], 0, 0);
            bool reversed = once[i].allclose(images[i].flip(2), 0, 0);
            Assert.IsTrue(same || reversed, $"image {i}");
            if (reversed) flipped++;
        }
        Assert.IsTrue(flipped is > 0 and < 16, $"{flipped} of 16 flipped");
        var full = new ImageAugmenter(new AugmentationOptions(), seed: 9);
        Assert.IsTrue(full.Apply(images, 2, 100).allclose(full.Apply(images, 2, 100), 0, 0), "same (seed, epoch, row): same output");
        // Image 3 of a batch starting at row 100 is image 0 of a batch starting at row 103.
        Assert.IsTrue(full.Apply(images, 2, 100)[3].allclose(full.Apply(images.narrow(0, 3, 1), 2, 103)[0], 0, 0));
        // Another epoch draws again, image by image: a 5×7 image has only a few hundred integer crops, so an occasional
        // repeat is chance, but not more than two of 16.
        Tensor epoch2 = full.Apply(images, 2, 100), epoch3 = full.Apply(images, 3, 100);
        int redrawn = Enumerable.Range(0, 16).Count(i => !epoch2[i].allclose(epoch3[i], 0, 0));
        Assert.IsGreaterThanOrEqualTo(14, redrawn, "images drawn anew in another epoch");
    }

    [TestMethod]
    public void PermutationsAreDeterministicPermutations()
    {
        int[] first = SplitMix64.Permutation(50, 4);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 50).ToArray(), first);
        CollectionAssert.AreEqual(first, SplitMix64.Permutation(50, 4));
        // Another seed, another permutation: two independent uniform permutations agree at one position on average, and
        // at more than 5 with probability below 0.1 %.
        int[] other = SplitMix64.Permutation(50, 5);
        Assert.IsLessThanOrEqualTo(5, first.Zip(other).Count(pair => pair.First == pair.Second), "positions where two seeds agree");
        // SplitMix64's published first output for seed 0.
        Assert.AreEqual(0xE220A8397B1DCDAFUL, new SplitMix64(0).NextUInt64());
    }
}
