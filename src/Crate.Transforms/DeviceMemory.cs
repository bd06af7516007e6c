using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>
/// Memory a pass on a GPU can use. TorchSharp 0.107 exposes no CUDA memory query, so the driver is asked
/// (<see cref="CudaDriver.MemoryInfo"/>); but the driver counts the blocks libtorch's caching allocator keeps after a
/// pass as used, though the next pass reuses them. Sizing by the driver alone would shrink every pass after the
/// first. Neither TorchSharp nor libtorch's exported C API reads the allocator's statistics (its getDeviceStats is an
/// inline virtual call in a C++ header), so the bytes the cache holds for this process are counted here: the
/// largest working set a pass sized by <see cref="FreeBytes"/> was given on that device (<see cref="RecordPass"/>).
/// The allocator keeps such blocks until it runs out (libtorch frees its cache and retries before it fails), so
/// they are free to the next pass.
/// </summary>
internal static class DeviceMemory
{
    private static readonly object Gate = new();
    private static readonly Dictionary<int, long> CachedByPasses = new();

    /// <summary>
    /// Bytes free to the next pass on <paramref name="device"/>'s GPU: the driver's free memory plus what libtorch's
    /// cache holds from earlier passes; null on the CPU or when the driver cannot tell.
    /// </summary>
    public static long? FreeBytes(Device device)
    {
        if (device.type != DeviceType.CUDA || CudaDriver.MemoryInfo() is not var (free, total))
            return null;
        return Available(free, total, Cached(device));
    }

    /// <summary>Records that a pass on <paramref name="device"/> was sized to <paramref name="workingSetBytes"/>: after it, the cache holds that much.</summary>
    public static void RecordPass(Device device, long workingSetBytes)
    {
        if (device.type != DeviceType.CUDA) return;
        lock (Gate)
        {
            int index = Math.Max(device.index, 0);
            CachedByPasses[index] = Math.Max(workingSetBytes, CachedByPasses.GetValueOrDefault(index));
        }
    }

    /// <summary>The driver's <paramref name="driverFree"/> plus the cache's <paramref name="cached"/>, never above <paramref name="total"/>.</summary>
    internal static long Available(long driverFree, long total, long cached) => Math.Min(total, driverFree + cached);

    private static long Cached(Device device)
    {
        lock (Gate) return CachedByPasses.GetValueOrDefault(Math.Max(device.index, 0));
    }
}
