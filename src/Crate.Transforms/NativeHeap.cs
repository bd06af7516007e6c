using System.Runtime.InteropServices;

namespace Crate.Transforms;

/// <summary>
/// Gives freed native memory back to the operating system between large CPU passes. glibc serves allocations below
/// its mmap threshold, which it raises to 32 MiB once large blocks are freed, from its heap, and keeps what is freed
/// there: a batch of images at 480×480 through CRATE-B/8 left the process 2–3 times larger than the tensors it ever
/// held at once (measured with and without MALLOC_MMAP_THRESHOLD_, docs/performance.md). <c>malloc_trim</c> returns
/// the free pages; it frees nothing in use. Elsewhere than glibc this does nothing.
/// </summary>
internal static class NativeHeap
{
    private static readonly Lazy<IntPtr> MallocTrim = new(() =>
        OperatingSystem.IsLinux()
        && NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)
        && NativeLibrary.TryGetExport(libc, "malloc_trim", out IntPtr function)
            ? function
            : IntPtr.Zero);

    /// <summary>Largest allocation of a pass above which the pass is worth trimming after: 8 MiB, the CPU activation
    /// budget of a micro-batch. Such passes take seconds of arithmetic, which dwarf re-faulting the pages; shorter
    /// passes keep their pages (re-faulting would cost what micro-batching saves).</summary>
    public const long LargeAllocationBytes = 8L << 20;

    /// <summary>Returns free heap pages to the operating system after a pass whose largest allocation was
    /// <paramref name="largestBytes"/>, when that is above <see cref="LargeAllocationBytes"/>.</summary>
    public static unsafe void ReleaseAfterPass(long largestBytes)
    {
        if (largestBytes > LargeAllocationBytes && MallocTrim.Value != IntPtr.Zero)
            ((delegate* unmanaged<nuint, int>)MallocTrim.Value)(0);
    }
}
