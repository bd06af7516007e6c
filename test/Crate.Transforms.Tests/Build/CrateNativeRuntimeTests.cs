namespace Crate.Transforms.Tests.Build;

/// <summary>
/// CrateNativeRuntime, the GLIBCXX fix at run time for hosts that load TorchSharp from the package folder (notebooks).
/// The oracle for "which entry, which bit" is binutils' readelf and a byte comparison with the library NuGet shipped;
/// the notebooks' tests (<c>NotebookTests</c>) load the patched copy in such a host.
/// </summary>
[TestClass]
public sealed class CrateNativeRuntimeTests
{
    [TestMethod]
    public void InABuiltApplicationTheBuildsCopyIsUsedAsIs()
    {
        CrateNativeRuntimeStatus status = CrateNativeRuntime.EnsureLoadable(Path.Combine(Path.GetTempPath(), "crate-unused-cache"));
        Assert.AreEqual(CrateNativeRuntimeAction.None, status.Action, status.Description);
        Assert.AreSame(status, CrateNativeRuntime.EnsureLoadable(), "A second call returns the first call's status.");
        if (NativeRuntimeFixTests.SystemHasVersion())
            return;
        Assert.IsNotNull(status.Library, status.Description);
        StringAssert.StartsWith(Path.GetFullPath(status.Library), Path.GetFullPath(AppContext.BaseDirectory));
        StringAssert.Contains(NativeRuntimeFixTests.ReadElfVersions(status.Library), "Name: GLIBCXX_3.4.32  Flags: WEAK");
    }

    [TestMethod]
    public void TheEnvironmentVariableOrTheRunTimeSwitchTurnsTheFixOff()
    {
        foreach (string off in new[] { "false", "FALSE", "0", "off", " no " })
            StringAssert.Contains(CrateNativeRuntime.TurnedOffBy(off, null), $"environment variable CrateNativeFix={off}");
        foreach (string? on in new[] { null, "", "true", "1", "yes", "maybe" })
            Assert.IsNull(CrateNativeRuntime.TurnedOffBy(on, null), $"CrateNativeFix='{on}' leaves the fix on");
        StringAssert.Contains(CrateNativeRuntime.TurnedOffBy(null, false), "run-time switch Crate.NativeFix=false");
        Assert.IsNull(CrateNativeRuntime.TurnedOffBy(null, true));
        StringAssert.Contains(CrateNativeRuntime.TurnedOffBy("0", true), "environment variable", "either one turns it off");
    }

    [TestMethod]
    public void PatchedCopyDiffersFromTheShippedLibraryInTheWeakBitAndLinksItsNeighbours()
    {
        string shipped = NativeRuntimeFixTests.ShippedLibrary();
        string libtorch = LibTorchCpuNatives();
        byte[] original = File.ReadAllBytes(shipped);
        string folder = Directory.CreateTempSubdirectory("crate-native-").FullName;
        try
        {
            string patched = CrateNativeRuntime.PreparePatchedCopy(shipped, [Path.GetDirectoryName(shipped)!, libtorch], folder);

            Assert.AreEqual(Path.Combine(folder, "libLibTorchSharp.so"), patched);
            CollectionAssert.AreEqual(original, File.ReadAllBytes(shipped), "The package folder's library must not change.");
            byte[] copy = File.ReadAllBytes(patched);
            Assert.HasCount(original.Length, copy);
            int[] differing = Enumerable.Range(0, original.Length).Where(i => original[i] != copy[i]).ToArray();
            Assert.HasCount(1, differing, $"bytes differ at {string.Join(", ", differing)}");
            Assert.AreEqual(0x02, original[differing[0]] ^ copy[differing[0]], "Only VER_FLG_WEAK may change.");
            string versions = NativeRuntimeFixTests.ReadElfVersions(patched);
            StringAssert.Contains(versions, "Name: GLIBCXX_3.4.32  Flags: WEAK");
            Assert.AreEqual(1, versions.Split('\n').Count(line => line.Contains("Flags: WEAK")), versions);

            // Every library of libtorch is linked (not copied) beside the copy, so its $ORIGIN search finds them.
            string[] expected = Directory.GetFiles(libtorch).Where(f => f.Contains(".so")).Select(Path.GetFileName).Order().ToArray()!;
            CollectionAssert.IsSubsetOf(new[] { "libtorch.so", "libtorch_cpu.so", "libc10.so" }, expected);
            foreach (string name in expected)
                Assert.AreEqual(Path.Combine(libtorch, name), new FileInfo(Path.Combine(folder, name)).LinkTarget, name);
            Assert.IsEmpty(Directory.GetFiles(folder, ".libLibTorchSharp.so.*"), "No temporary file is left behind.");

            // A second run (another notebook) reuses the copy.
            DateTime written = File.GetLastWriteTimeUtc(patched);
            Assert.AreEqual(patched, CrateNativeRuntime.PreparePatchedCopy(shipped, [Path.GetDirectoryName(shipped)!, libtorch], folder));
            Assert.AreEqual(written, File.GetLastWriteTimeUtc(patched));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void LibTorchIsFoundThroughTheBackendPackagesDependencies()
    {
        // TorchSharp-cpu 0.107.0 → libtorch-cpu 2.10.0 → libtorch-cpu-linux-x64 2.10.0, as their .nuspec files say.
        List<string> found = CrateNativeRuntime.LibTorchNativeDirectories(LocalPackageFeed.MachinePackagesDirectory, TorchSharpVersion(), "linux-x64");
        CollectionAssert.Contains(found, LibTorchCpuNatives());

        // A package folder made by hand: a version range, a dependency that is not libtorch, mixed-case ids.
        string root = Directory.CreateTempSubdirectory("crate-packages-").FullName;
        try
        {
            WritePackage(root, "torchsharp-cpu", "1.0.0", """<dependency id="LibTorch-Tiny" version="[3.2.1]" /><dependency id="TorchSharp" version="1.0.0" />""");
            WritePackage(root, "libtorch-tiny", "3.2.1", """<dependency id="libtorch-tiny-linux-x64" version="[3.2.1, )" />""");
            string natives = WritePackage(root, "libtorch-tiny-linux-x64", "3.2.1", "", withNatives: true);
            WritePackage(root, "torchsharp", "1.0.0", "", withNatives: true); // TorchSharp's own library is not libtorch's
            CollectionAssert.AreEqual(new[] { natives }, CrateNativeRuntime.LibTorchNativeDirectories(root, "1.0.0", "linux-x64"));
            CollectionAssert.AreEqual(Array.Empty<string>(), CrateNativeRuntime.LibTorchNativeDirectories(root, "2.0.0", "linux-x64"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string WritePackage(string root, string id, string version, string dependencies, bool withNatives = false)
    {
        string home = Path.Combine(root, id, version);
        string natives = Path.Combine(home, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(withNatives ? natives : home);
        File.WriteAllText(Path.Combine(home, id + ".nuspec"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>{id}</id><version>{version}</version>
            <dependencies><group targetFramework="net8.0">{dependencies}</group></dependencies></metadata></package>
            """);
        return natives;
    }

    private static string LibTorchCpuNatives()
    {
        string package = Path.Combine(LocalPackageFeed.MachinePackagesDirectory, "libtorch-cpu-linux-x64");
        string natives = Path.Combine(Directory.GetDirectories(package).Single(), "runtimes", "linux-x64", "native");
        Assert.IsTrue(File.Exists(Path.Combine(natives, "libtorch_cpu.so")), natives);
        return natives;
    }

    private static string TorchSharpVersion() => typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3);
}
