using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Xml.Linq;
using Crate.Transforms.NativeRuntime;

namespace Crate.Transforms;

/// <summary>
/// The GLIBCXX fix of build/README.md at run time, for hosts that load TorchSharp straight from the NuGet package
/// folder: .NET Interactive and Polyglot notebooks, dotnet-repl, F# Interactive. Built applications need nothing:
/// the packages' buildTransitive targets patch the copy in their output. Call <see cref="EnsureLoadable"/> once,
/// before TorchSharp's first use (a notebook's first cell).
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> requires <c>GLIBCXX_3.4.32</c> (GCC 13's libstdc++) for one symbol
/// that is never called, and Linux distributions with an older libstdc++ (Debian 12) refuse to load it. On such a
/// system this makes a copy of the library with that one requirement marked weak, in a cache folder of its own (the
/// NuGet package folder is never written), links TorchSharp's other native libraries beside it so that its
/// <c>$ORIGIN</c> search finds them, and loads the copy. The loader then hands this already loaded library to every
/// later load by name, TorchSharp's own included.
/// <para>Turned off, for a host that manages native libraries itself, by the environment variable
/// <c>CrateNativeFix=false</c> (also read by the build as the MSBuild property of that name) or by the run-time switch
/// <c>Crate.NativeFix=false</c>, which the build writes into runtimeconfig.json when the property is false.</para>
/// </remarks>
public static class CrateNativeRuntime
{
    private const string LibraryFileName = "libLibTorchSharp.so";

    /// <summary>The environment variable that turns the fix off when it is <c>false</c> (or <c>0</c>, <c>off</c>, <c>no</c>);
    /// the build's MSBuild property has the same name.</summary>
    public const string EnvironmentVariable = "CrateNativeFix";

    /// <summary>The run-time switch (runtimeconfig.json, <see cref="AppContext"/>) that turns the fix off when false.</summary>
    public const string Switch = "Crate.NativeFix";
    private static readonly Lock Gate = new();
    private static CrateNativeRuntimeStatus? ensured;

    /// <summary>
    /// Makes TorchSharp's native library loadable in this process; does nothing off Linux, where the system libstdc++
    /// defines GLIBCXX_3.4.32, where the library beside the application is already patched (a built application), or
    /// when turned off (<see cref="EnvironmentVariable"/>, <see cref="Switch"/>). Idempotent: later calls return the
    /// first call's status.
    /// </summary>
    /// <param name="cacheDirectory">Where patched copies are kept, one folder per TorchSharp build. Default
    /// <c>$XDG_CACHE_HOME/crate-mlnet/torchsharp-native</c> (<c>~/.cache/…</c> when XDG_CACHE_HOME is unset).</param>
    /// <returns>What was found and done; its <see cref="object.ToString"/> says it in a sentence.</returns>
    /// <exception cref="InvalidOperationException">TorchSharp's native library or libtorch's cannot be found (the message
    /// says where it looked and which package to reference), or the patched copy does not load (the message carries the
    /// loader's error).</exception>
    public static CrateNativeRuntimeStatus EnsureLoadable(string? cacheDirectory = null)
    {
        lock (Gate)
            return ensured ??= Resolve(cacheDirectory ?? DefaultCacheDirectory());
    }

    private static CrateNativeRuntimeStatus Resolve(string cacheDirectory)
    {
        string? turnedOff = TurnedOffBy(Environment.GetEnvironmentVariable(EnvironmentVariable),
            AppContext.TryGetSwitch(Switch, out bool enabled) ? enabled : null);
        if (turnedOff is not null)
            return new(CrateNativeRuntimeAction.TurnedOff, null, $"Turned off by {turnedOff}: TorchSharp's native library is left as it is found.");
        if (!OperatingSystem.IsLinux())
            return new(CrateNativeRuntimeAction.None, null, "Not Linux: TorchSharp's native library loads as shipped.");
        string? system = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
        if (system != null && GlibcxxWeakVersionPatch.LibraryDefinesVersion(system))
            return new(CrateNativeRuntimeAction.None, null,
                $"{system} defines {GlibcxxWeakVersionPatch.VersionName}: TorchSharp's native library loads as shipped.");

        string torchSharpDirectory = TorchSharpAssemblyDirectory();
        string rid = RuntimeIdentifier();
        // A built application: the library sits beside it (patched by the build when the Crate.* targets ran).
        string[] besideApplication =
        [
            Path.Combine(AppContext.BaseDirectory, LibraryFileName),
            Path.Combine(torchSharpDirectory, LibraryFileName),
            Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native", LibraryFileName),
        ];
        string? local = besideApplication.FirstOrDefault(File.Exists);
        if (local != null)
        {
            if (!GlibcxxWeakVersionPatch.HasStrongRequirement(local))
                return new(CrateNativeRuntimeAction.None, local,
                    $"{local} already has its {GlibcxxWeakVersionPatch.VersionName} requirement marked weak (the build's fix).");
            return LoadPatchedCopy(local, [Path.GetDirectoryName(local)!], cacheDirectory);
        }

        // An interactive host: TorchSharp.dll was loaded from <packages>/torchsharp/<version>/lib/<framework>/.
        DirectoryInfo? packageHome = Directory.GetParent(torchSharpDirectory)?.Parent;
        DirectoryInfo? packagesRoot = packageHome?.Parent?.Parent;
        string? shipped = packageHome is null ? null : Path.Combine(packageHome.FullName, "runtimes", rid, "native", LibraryFileName);
        if (packagesRoot is null || shipped is null || !File.Exists(shipped))
            throw new InvalidOperationException(
                $"TorchSharp's native library {LibraryFileName} is neither beside the application ({string.Join(", ", besideApplication)}) " +
                $"nor in the NuGet package TorchSharp.dll was loaded from ({torchSharpDirectory}): reference TorchSharp-cpu " +
                "(or TorchSharp-cuda-linux) in the application or notebook.");
        string version = packageHome!.Name;
        List<string> libtorch = LibTorchNativeDirectories(packagesRoot.FullName, version, rid);
        if (libtorch.Count == 0)
            throw new InvalidOperationException(
                $"No libtorch package for TorchSharp {version} was found under {packagesRoot.FullName}: reference the backend, " +
                $"e.g. #r \"nuget: TorchSharp-cpu, {version}\" in a notebook (TorchSharp-cuda-linux for a GPU).");
        return LoadPatchedCopy(shipped, [Path.GetDirectoryName(shipped)!, .. libtorch], cacheDirectory);
    }

    /// <summary>What turns the fix off, in words, or null: the environment variable's value <paramref name="environment"/>
    /// when it is false, 0, off or no (any case), else the run-time switch's value <paramref name="runtimeSwitch"/> when false.</summary>
    internal static string? TurnedOffBy(string? environment, bool? runtimeSwitch)
    {
        if (environment?.Trim().ToLowerInvariant() is "false" or "0" or "off" or "no")
            return $"the environment variable {EnvironmentVariable}={environment}";
        return runtimeSwitch == false ? $"the run-time switch {Switch}=false (the MSBuild property {EnvironmentVariable}=false)" : null;
    }

    /// <summary>
    /// Copies <paramref name="library"/> into a folder of the cache named by its content hash, marks the copy's version
    /// requirement weak, links every other native library of <paramref name="nativeDirectories"/> beside it, and loads it.
    /// </summary>
    internal static CrateNativeRuntimeStatus LoadPatchedCopy(string library, IReadOnlyList<string> nativeDirectories, string cacheDirectory)
    {
        string folder = Path.Combine(cacheDirectory, ContentHash(library));
        string patched = PreparePatchedCopy(library, nativeDirectories, folder);
        if (!NativeLibrary.TryLoad(patched, out _))
        {
            // TryLoad drops the loader's message; Load throws with it.
            try
            {
                NativeLibrary.Load(patched);
            }
            catch (DllNotFoundException e)
            {
                throw new InvalidOperationException($"The patched copy {patched} of {library} does not load: {e.Message}", e);
            }
        }
        return new(CrateNativeRuntimeAction.LoadedPatchedCopy, patched,
            $"Loaded {patched}, a copy of {library} with its {GlibcxxWeakVersionPatch.VersionName} requirement marked weak.");
    }

    /// <summary>The patched copy and the links beside it in <paramref name="folder"/>; safe when several processes race.</summary>
    internal static string PreparePatchedCopy(string library, IReadOnlyList<string> nativeDirectories, string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (string directory in nativeDirectories)
            foreach (string file in Directory.GetFiles(directory))
            {
                string name = Path.GetFileName(file);
                if (name != LibraryFileName && IsSharedLibrary(name))
                    Link(Path.Combine(folder, name), file);
            }
        string patched = Path.Combine(folder, LibraryFileName);
        if (!File.Exists(patched))
        {
            // Patched under a private name and renamed into place, so no process ever sees a half-written library.
            string temporary = Path.Combine(folder, $".{LibraryFileName}.{Guid.NewGuid():N}");
            File.Copy(library, temporary);
            GlibcxxWeakVersionPatch.MarkWeak(temporary);
            try
            {
                File.Move(temporary, patched);
            }
            catch (IOException) when (File.Exists(patched))
            {
                File.Delete(temporary); // another process got there first with the same bytes
            }
        }
        if (GlibcxxWeakVersionPatch.HasStrongRequirement(patched))
            throw new InvalidOperationException($"{patched} still requires {GlibcxxWeakVersionPatch.VersionName}; delete the folder {folder} and retry.");
        return patched;
    }

    /// <summary>
    /// The native folders of the libtorch packages that the TorchSharp backend bundles (TorchSharp-cpu, TorchSharp-cuda-linux)
    /// of <paramref name="version"/> depend on, read from their .nuspec files in the package folder.
    /// </summary>
    internal static List<string> LibTorchNativeDirectories(string packagesRoot, string version, string rid)
    {
        var found = new List<string>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<(string Id, string Version)>([("torchsharp-cpu", version), ("torchsharp-cuda-linux", version)]);
        while (pending.TryDequeue(out (string Id, string Version) package))
        {
            string id = package.Id.ToLowerInvariant();
            string home = Path.Combine(packagesRoot, id, package.Version.ToLowerInvariant());
            if (!visited.Add(home) || !Directory.Exists(home))
                continue;
            string natives = Path.Combine(home, "runtimes", rid, "native");
            if (Directory.Exists(natives) && id.StartsWith("libtorch", StringComparison.Ordinal))
                found.Add(natives);
            string nuspec = Path.Combine(home, id + ".nuspec");
            if (!File.Exists(nuspec))
                continue;
            foreach (XElement dependency in XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency"))
            {
                string? dependencyId = (string?)dependency.Attribute("id");
                string? range = (string?)dependency.Attribute("version");
                if (dependencyId is null || range is null || !dependencyId.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase))
                    continue;
                // "2.10.0" or "[2.10.0]" or "[2.10.0, )": the lower bound is what NuGet restores from a served registry.
                string lower = range.Trim('[', '(', ' ').Split(',')[0].Trim(']', ')', ' ');
                pending.Enqueue((dependencyId, lower));
            }
        }
        return found;
    }

    private static void Link(string link, string target)
    {
        var existing = new FileInfo(link);
        if (existing.LinkTarget == target)
            return;
        if (existing.Exists || existing.LinkTarget != null)
            existing.Delete(); // a link left by another package folder, or a file that is not a link
        try
        {
            File.CreateSymbolicLink(link, target);
        }
        catch (IOException) when (new FileInfo(link).LinkTarget == target)
        {
            // another process made the same link
        }
    }

    private static bool IsSharedLibrary(string name) => name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal);

    private static string ContentHash(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
    }

    private static string TorchSharpAssemblyDirectory()
    {
        string location = typeof(TorchSharp.torch).Assembly.Location; // typeof runs no type initializer: nothing is loaded yet
        return string.IsNullOrEmpty(location) ? AppContext.BaseDirectory : Path.GetDirectoryName(location)!;
    }

    private static string RuntimeIdentifier() =>
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    private static string DefaultCacheDirectory()
    {
        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            cache = string.IsNullOrEmpty(home) ? Path.GetTempPath() : Path.Combine(home, ".cache");
        }
        return Path.Combine(cache, "crate-mlnet", "torchsharp-native");
    }
}

/// <summary>What <see cref="CrateNativeRuntime.EnsureLoadable"/> did.</summary>
public enum CrateNativeRuntimeAction
{
    /// <summary>Nothing was needed: not Linux, a libstdc++ with GLIBCXX_3.4.32, or a library already patched by the build.</summary>
    None,

    /// <summary>A patched copy of TorchSharp's native library was made (or found in the cache) and loaded.</summary>
    LoadedPatchedCopy,

    /// <summary>Nothing was looked at: the fix is turned off (<see cref="CrateNativeRuntime.EnvironmentVariable"/>,
    /// <see cref="CrateNativeRuntime.Switch"/>).</summary>
    TurnedOff,
}

/// <summary>The outcome of <see cref="CrateNativeRuntime.EnsureLoadable"/>.</summary>
/// <param name="Action">What was done.</param>
/// <param name="Library">The libLibTorchSharp.so that TorchSharp will use, when one was looked at; null when nothing needed looking at.</param>
/// <param name="Description">The same in a sentence, with the reason.</param>
public sealed record CrateNativeRuntimeStatus(CrateNativeRuntimeAction Action, string? Library, string Description)
{
    /// <summary>The description.</summary>
    public override string ToString() => Description;
}
