using System.Diagnostics;
using Crate.Build;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Build;

/// <summary>
/// The GLIBCXX fix of build/Crate.NativeRuntime.targets: TorchSharp loads in this process, and the library the
/// build placed beside the tests differs from the one NuGet shipped in exactly the weak flag of one entry.
/// The oracle for "which entry" is binutils' readelf, not our parser.
/// </summary>
[TestClass]
public sealed class NativeRuntimeFixTests
{
    [TestMethod]
    public void TorchSharpInitialisesAndComputes()
    {
        using Tensor sum = ones(3, 4).sum();
        Assert.AreEqual(12f, sum.item<float>());
    }

    [TestMethod]
    public void BuildOutputDiffersFromShippedLibraryInExactlyTheWeakFlag()
    {
        string shipped = ShippedLibrary();
        string[] copies = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.IsNotEmpty(copies, "The build placed no libLibTorchSharp.so beside the tests.");
        byte[] original = File.ReadAllBytes(shipped);
        bool systemHasVersion = SystemHasVersion();
        foreach (string copy in copies)
        {
            byte[] patched = File.ReadAllBytes(copy);
            Assert.HasCount(original.Length, patched, copy);
            int[] differing = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
            if (systemHasVersion)
            {
                Assert.IsEmpty(differing, $"{copy} was patched although the system libstdc++ defines the version.");
                continue;
            }
            Assert.HasCount(1, differing, $"{copy}: bytes differ at {string.Join(", ", differing)}");
            Assert.AreEqual(0x02, original[differing[0]] ^ patched[differing[0]], "Only VER_FLG_WEAK may change.");
            StringAssert.Contains(ReadElfVersions(copy), "Name: GLIBCXX_3.4.32  Flags: WEAK");
            StringAssert.Contains(ReadElfVersions(shipped), "Name: GLIBCXX_3.4.32  Flags: none");
        }
    }

    /// <summary>
    /// Directory.Build.props links the packages' files into each output instead of copying them (a copy of libtorch
    /// per project filled CI's disk). coreutils' stat, following a symbolic link, names the same file (device and
    /// inode) for libtorch beside the tests and in the NuGet cache. That the GLIBCXX fix did not write through such a
    /// link into the cache is <see cref="BuildOutputDiffersFromShippedLibraryInExactlyTheWeakFlag"/>: the shipped
    /// library still reads "Flags: none".
    /// </summary>
    [TestMethod]
    public void LibTorchBesideTheTestsIsALinkToTheNuGetCacheNotACopy()
    {
        string beside = Directory.GetFiles(AppContext.BaseDirectory, "libtorch_cpu.so", SearchOption.AllDirectories).Single();
        string[] cached = Directory.GetFiles(Path.Combine(LocalPackageFeed.MachinePackagesDirectory, "libtorch-cpu-linux-x64"), "libtorch_cpu.so", SearchOption.AllDirectories);
        Assert.IsNotEmpty(cached, "libtorch-cpu-linux-x64 is not in the NuGet cache.");
        string[] cachedFiles = cached.Select(FileIdentity).ToArray();
        CollectionAssert.Contains(cachedFiles, FileIdentity(beside), $"{beside} is a copy, not a link to {string.Join(" or ", cached)} (an output built before the links: delete bin/ and rebuild).");
    }

    /// <summary>"device:inode" of <paramref name="path"/>, after following symbolic links (coreutils' stat -L).</summary>
    private static string FileIdentity(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%d:%i", path]) { RedirectStandardOutput = true })!;
        string output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.AreEqual(0, stat.ExitCode, $"stat {path} failed");
        return output;
    }

    [TestMethod]
    public void PatcherIsIdempotentAndTouchesNothingElse()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"crate-patch-{Guid.NewGuid():N}.so");
        File.Copy(ShippedLibrary(), copy);
        try
        {
            Assert.IsTrue(GlibcxxWeakVersionPatch.MarkWeak(copy));
            Assert.IsFalse(GlibcxxWeakVersionPatch.MarkWeak(copy), "A second run must change nothing.");
            string versions = ReadElfVersions(copy);
            StringAssert.Contains(versions, "Name: GLIBCXX_3.4.32  Flags: WEAK");
            // Every other version need keeps its flags.
            int weak = versions.Split('\n').Count(line => line.Contains("Flags: WEAK"));
            Assert.AreEqual(1, weak, versions);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [TestMethod]
    public void StrongRequirementIsTheShippedStateAndGoesWithThePatch()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"crate-patch-{Guid.NewGuid():N}.so");
        File.Copy(ShippedLibrary(), copy);
        try
        {
            // readelf says the shipped entry has "Flags: none" (BuildOutputDiffersFromShippedLibraryInExactlyTheWeakFlag).
            Assert.IsTrue(GlibcxxWeakVersionPatch.HasStrongRequirement(copy));
            Assert.IsFalse(GlibcxxWeakVersionPatch.HasStrongRequirement(copy, "GLIBCXX_9.9.99"), "No such entry: nothing to require.");
            GlibcxxWeakVersionPatch.MarkWeak(copy);
            Assert.IsFalse(GlibcxxWeakVersionPatch.HasStrongRequirement(copy));
            File.WriteAllText(copy, "not an ELF file");
            Assert.IsFalse(GlibcxxWeakVersionPatch.HasStrongRequirement(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [TestMethod]
    public void PatcherLeavesFilesWithoutTheEntryAlone()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"crate-patch-{Guid.NewGuid():N}.so");
        File.Copy(ShippedLibrary(), copy);
        try
        {
            byte[] before = File.ReadAllBytes(copy);
            Assert.IsFalse(GlibcxxWeakVersionPatch.MarkWeak(copy, "GLIBCXX_9.9.99"));
            CollectionAssert.AreEqual(before, File.ReadAllBytes(copy));
            File.WriteAllText(copy, "not an ELF file");
            Assert.IsFalse(GlibcxxWeakVersionPatch.MarkWeak(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [TestMethod]
    public void VersionDetectionReadsTheLibrarysVersionNames()
    {
        string library = Path.Combine(Path.GetTempPath(), $"crate-libstdcxx-{Guid.NewGuid():N}.so");
        try
        {
            File.WriteAllBytes(library, [.. "\0GLIBCXX_3.4.31\0GLIBCXX_3.4.32\0"u8]);
            Assert.IsTrue(GlibcxxWeakVersionPatch.LibraryDefinesVersion(library));
            File.WriteAllBytes(library, [.. "\0GLIBCXX_3.4.30\0GLIBCXX_3.4.321\0"u8]);
            Assert.IsFalse(GlibcxxWeakVersionPatch.LibraryDefinesVersion(library), "A longer name must not match.");
        }
        finally
        {
            File.Delete(library);
        }
    }

    internal static bool SystemHasVersion()
    {
        string? system = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
        return system != null && GlibcxxWeakVersionPatch.LibraryDefinesVersion(system);
    }

    /// <summary>The libLibTorchSharp.so NuGet shipped, in the machine's package folder.</summary>
    internal static string ShippedLibrary()
    {
        string root = LocalPackageFeed.MachinePackagesDirectory;
        Version version = typeof(TorchSharp.torch).Assembly.GetName().Version!;
        string path = Path.Combine(root, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}",
            "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.IsTrue(File.Exists(path), $"The shipped library is not at {path}.");
        return path;
    }

    /// <summary>binutils' readelf -V of <paramref name="path"/>: the version sections, independently of our parser.</summary>
    internal static string ReadElfVersions(string path)
    {
        using var readelf = Process.Start(new ProcessStartInfo("readelf", ["-V", path]) { RedirectStandardOutput = true })!;
        string output = readelf.StandardOutput.ReadToEnd();
        readelf.WaitForExit();
        Assert.AreEqual(0, readelf.ExitCode, "readelf failed");
        return output;
    }
}
