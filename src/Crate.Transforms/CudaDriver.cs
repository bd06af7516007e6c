using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>
/// What TorchSharp 0.107 does not say about a GPU, asked of the CUDA driver API (libcuda, which every CUDA install
/// has, whichever runtime libtorch was built against): free memory and the compute capability. TorchSharp's
/// <c>torch.cuda</c> has only is_available, device_count, seeding and synchronize (read from its assembly), and its
/// native library exports no allocator or device-property call. Every method answers null where there is no driver.
/// </summary>
internal static class CudaDriver
{
    private const int ComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR in cuda.h
    private const int ComputeCapabilityMinor = 76; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

    private static readonly Lazy<IntPtr> Driver = new(() =>
        NativeLibrary.TryLoad(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1", out IntPtr driver) ? driver : IntPtr.Zero);

    private static IntPtr Export(string name) =>
        Driver.Value != IntPtr.Zero && NativeLibrary.TryGetExport(Driver.Value, name, out IntPtr function) ? function : IntPtr.Zero;

    /// <summary>
    /// Free and total bytes of the GPU of the context current on the calling thread (libtorch's, once a tensor was
    /// placed on the GPU from this thread) by <c>cuMemGetInfo_v2</c>; blocks libtorch's caching allocator holds count
    /// as used here.
    /// </summary>
    public static unsafe (long Free, long Total)? MemoryInfo()
    {
        IntPtr memGetInfo = Export("cuMemGetInfo_v2");
        if (memGetInfo == IntPtr.Zero) return null;
        nuint free = 0, total = 0;
        int status = ((delegate* unmanaged<nuint*, nuint*, int>)memGetInfo)(&free, &total);
        return status == 0 ? ((long)free, (long)total) : null;
    }

    /// <summary>The compute capability (major, minor) of CUDA device <paramref name="ordinal"/>, by cuDeviceGetAttribute.</summary>
    public static unsafe (int Major, int Minor)? ComputeCapability(int ordinal)
    {
        IntPtr init = Export("cuInit"), deviceGet = Export("cuDeviceGet"), getAttribute = Export("cuDeviceGetAttribute");
        if (init == IntPtr.Zero || deviceGet == IntPtr.Zero || getAttribute == IntPtr.Zero) return null;
        // cuInit is idempotent: libtorch has called it already when a GPU is in use.
        if (((delegate* unmanaged<uint, int>)init)(0) != 0) return null;
        int device = 0, major = 0, minor = 0;
        if (((delegate* unmanaged<int*, int, int>)deviceGet)(&device, ordinal) != 0) return null;
        var attribute = (delegate* unmanaged<int*, int, int, int>)getAttribute;
        if (attribute(&major, ComputeCapabilityMajor, device) != 0 || attribute(&minor, ComputeCapabilityMinor, device) != 0) return null;
        return (major, minor);
    }

    /// <summary>
    /// Whether <paramref name="device"/> computes in bfloat16 natively, as torch.cuda.is_bf16_supported() without
    /// emulation: a CUDA GPU of compute capability 8.0 (Ampere) or later; <paramref name="reason"/> says why not.
    /// </summary>
    public static bool SupportsBFloat16(Device device, out string reason)
    {
        if (device.type != DeviceType.CUDA)
        {
            reason = $"{device} is not a CUDA GPU.";
            return false;
        }
        return SupportsBFloat16(ComputeCapability(Math.Max(device.index, 0)), out reason);
    }

    /// <summary>The rule of <see cref="SupportsBFloat16(Device, out string)"/> for a known (or unreadable) compute capability.</summary>
    internal static bool SupportsBFloat16((int Major, int Minor)? capability, out string reason)
    {
        switch (capability)
        {
            case null:
                reason = "the CUDA driver did not tell the GPU's compute capability, so bfloat16 support is unknown.";
                return false;
            case ({ } major, { } minor) when major < 8:
                reason = $"the GPU's compute capability {major}.{minor} has no bfloat16 arithmetic (8.0, Ampere, is the first that has).";
                return false;
            case var (major, minor):
                reason = $"the GPU's compute capability {major}.{minor} has bfloat16 arithmetic.";
                return true;
        }
    }
}
