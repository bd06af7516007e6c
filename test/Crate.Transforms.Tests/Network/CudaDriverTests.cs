using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Network;

/// <summary>
/// What the CUDA driver is asked, and the rules applied to its answers, checked without a GPU. Oracles: NVIDIA's
/// table of compute capabilities (bfloat16 arithmetic from 8.0, Ampere: V100 is 7.0, T4 7.5, A100 8.0, RTX 3090 8.6,
/// L4 8.9, H100 9.0) and sums done by hand. On a machine with a GPU the driver's own answers are printed.
/// </summary>
[TestClass]
public sealed class CudaDriverTests
{
    [TestMethod]
    public void BFloat16IsUsedFromComputeCapabilityEightOnwardAndNeverWhenUnknown()
    {
        foreach ((int major, int minor, bool expected) in new[] { (7, 0, false), (7, 5, false), (8, 0, true), (8, 6, true), (8, 9, true), (9, 0, true) })
        {
            Assert.AreEqual(expected, CudaDriver.SupportsBFloat16((major, minor), out string reason), $"compute capability {major}.{minor}");
            StringAssert.Contains(reason, $"{major}.{minor}");
        }
        Assert.IsFalse(CudaDriver.SupportsBFloat16(((int, int)?)null, out string unknown), "an unreadable capability");
        StringAssert.Contains(unknown, "unknown");
        Assert.IsFalse(CudaDriver.SupportsBFloat16(CPU, out string cpu), "the CPU is not a CUDA GPU");
        StringAssert.Contains(cpu, "not a CUDA GPU");
    }

    [TestMethod]
    public void AReadoutAskingForBFloat16OnAGpuWithoutItRunsInFloat32AndSaysWhy()
    {
        Assert.AreEqual(ComputePrecision.Float32,
            ComputeDeviceSelector.InferencePrecision(ComputePrecision.BFloat16, DeviceType.CUDA, () => (7, 5), out string? t4), "a T4 (7.5)");
        StringAssert.Contains(t4, "7.5");
        StringAssert.Contains(t4, "float32");
        Assert.AreEqual(ComputePrecision.Float32,
            ComputeDeviceSelector.InferencePrecision(ComputePrecision.BFloat16, DeviceType.CUDA, () => null, out string? unknown), "capability unknown");
        StringAssert.Contains(unknown, "unknown");
        Assert.AreEqual(ComputePrecision.BFloat16,
            ComputeDeviceSelector.InferencePrecision(ComputePrecision.BFloat16, DeviceType.CUDA, () => (8, 0), out string? a100), "an A100 (8.0)");
        Assert.IsNull(a100);
        Assert.AreEqual(ComputePrecision.BFloat16,
            ComputeDeviceSelector.InferencePrecision(ComputePrecision.BFloat16, DeviceType.CPU, () => throw new AssertFailedException("the CPU asks no driver"), out string? cpu),
            "the CPU computes bfloat16 itself");
        Assert.IsNull(cpu);
        foreach (ComputePrecision other in new[] { ComputePrecision.Float32, ComputePrecision.Float16, ComputePrecision.Float64 })
            Assert.AreEqual(other, ComputeDeviceSelector.InferencePrecision(other, DeviceType.CUDA, () => (7, 0), out _), $"{other} stands");
    }

    [TestMethod]
    public void FreeMemoryCountsTheCacheOfEarlierPassesAndNothingOnTheCpu()
    {
        const long MiB = 1L << 20;
        Assert.AreEqual(1500 * MiB, DeviceMemory.Available(1000 * MiB, 8000 * MiB, 500 * MiB), "driver's free plus the cache");
        Assert.AreEqual(8000 * MiB, DeviceMemory.Available(7800 * MiB, 8000 * MiB, 500 * MiB), "never more than the device has");
        Assert.AreEqual(1000 * MiB, DeviceMemory.Available(1000 * MiB, 8000 * MiB, 0), "no pass yet: the driver's figure");
        DeviceMemory.RecordPass(CPU, 500 * MiB);
        Assert.IsNull(DeviceMemory.FreeBytes(CPU), "the CPU's passes are sized by their own budget, not by free memory");
    }

    [TestMethod]
    public void TheDriverAnswersNullWithoutAGpuAndItsOwnFiguresWithOne()
    {
        if (!cuda.is_available())
        {
            // No driver, or a driver without a GPU: cuInit or cuDeviceGet fails, and no CUDA context means no memory figure.
            Assert.IsNull(CudaDriver.ComputeCapability(0), "no GPU, no compute capability");
            // A device value only: torch.CUDA would try to load the CUDA backend, which TorchSharp-cpu lacks.
            var gpu = new Device(DeviceType.CUDA, 0);
            Assert.IsFalse(CudaDriver.SupportsBFloat16(gpu, out _), "so no bfloat16");
            Assert.IsNull(DeviceMemory.FreeBytes(gpu), "no libtorch CUDA context, no figure");
            return;
        }
        (int Major, int Minor)? capability = CudaDriver.ComputeCapability(0);
        Assert.IsNotNull(capability, "a GPU that TorchSharp uses has a readable capability");
        using Tensor placed = zeros(1, device: CUDA);
        (long free, long total) = CudaDriver.MemoryInfo() ?? throw new AssertFailedException("no memory figures from the driver");
        Console.WriteLine($"compute capability {capability}, free {free >> 20} MiB of {total >> 20} MiB");
        Assert.IsTrue(free > 0 && free <= total);
    }
}
