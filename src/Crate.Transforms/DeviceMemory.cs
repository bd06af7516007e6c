using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>
/// Free memory of a GPU, for sizing passes. TorchSharp 0.107 exposes no CUDA memory query, so this asks the CUDA
/// driver (<c>cuMemGetInfo_v2</c> of libcuda, which every CUDA install has) about the context current on the calling
/// thread: libtorch's, once a tensor has been placed on the GPU from this thread, which is the case when a pass is
/// being sized.
/// </summary>
internal static class DeviceMemory
{
    private static readonly Lazy<IntPtr> MemGetInfo = new(() =>
        NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", out IntPtr driver)
        && NativeLibrary.TryGetExport(driver, "cuMemGetInfo_v2", out IntPtr function)
            ? function
            : IntPtr.Zero);

    /// <summary>Free bytes on <paramref name="device"/>'s GPU; null on the CPU or when the driver cannot tell.</summary>
    public static unsafe long? FreeBytes(Device device)
    {
        if (device.type != DeviceType.CUDA || MemGetInfo.Value == IntPtr.Zero)
            return null;
        nuint free = 0, total = 0;
        int status = ((delegate* unmanaged<nuint*, nuint*, int>)MemGetInfo.Value)(&free, &total);
        return status == 0 ? (long)free : null;
    }
}
