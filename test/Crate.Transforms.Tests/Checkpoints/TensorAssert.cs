using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>Tensor comparisons with messages that say how far apart the tensors are.</summary>
internal static class TensorAssert
{
    /// <summary>Same shape and every element within <paramref name="tolerance"/> (absolute).</summary>
    public static void AreClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        using Tensor difference = (expected.to(ScalarType.Float32, CPU) - actual.detach().to(ScalarType.Float32, CPU)).abs().max();
        double largest = difference.item<float>();
        Assert.IsLessThanOrEqualTo(tolerance, largest, $"{what}: largest absolute difference {largest:G3} exceeds {tolerance:G3}.");
    }

    /// <summary>Same shape and bit-for-bit equal values, as torch.equal (TorchSharp's <c>equal</c> is element-wise).</summary>
    public static void AreEqual(Tensor expected, Tensor actual, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        using Tensor same = expected.eq(actual).all();
        Assert.IsTrue(same.item<bool>(), $"{what}: values differ.");
    }
}
