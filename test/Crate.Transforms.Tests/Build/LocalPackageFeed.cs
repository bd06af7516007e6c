using System.Reflection;
using Crate.Testing;

namespace Crate.Transforms.Tests.Build;

/// <summary>
/// Crate.Transforms and Crate.Trainers packed from this checkout into a folder feed, once per test run, for the tests
/// that consume them as a user would (<see cref="PackageConsumerTests"/>, the notebooks' tests).
/// </summary>
/// <remarks>
/// The packages get a version of their own (0.0.0-test…), so no package cache can serve an older build. They are
/// packed from a copy of the sources, so the pack's restore and Release build never race a build of the checkout that
/// another test runs at the same time. Consumers restore into a private package folder, with the machine's package
/// folder as a fallback for everything else (TorchSharp, ML.NET): nothing is downloaded again, and the user's cache
/// does not collect a test version on every run. Everything lives in one temporary folder, deleted after the run.
/// </remarks>
internal sealed class LocalPackageFeed
{
    private static readonly Lazy<LocalPackageFeed> Packed = new(() => new LocalPackageFeed(), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(8);

    private LocalPackageFeed()
    {
        Root = Directory.CreateTempSubdirectory("crate-feed-").FullName;
        Version = $"0.0.0-test{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        FeedDirectory = Path.Combine(Root, "feed");
        PackagesDirectory = Path.Combine(Root, "packages");
        SourcesDirectory = Path.Combine(Root, "sources");
        CopySources(RepositoryRoot, SourcesDirectory);
        foreach (string project in new[] { "Crate.Transforms", "Crate.Trainers" })
            ExternalProcess.Run("dotnet", ["pack", Path.Combine(SourcesDirectory, "src", project), "-c", "Release", "-o", FeedDirectory, $"-p:Version={Version}"],
                SourcesDirectory, PackTimeout);
    }

    /// <summary>The feed, packed on first use.</summary>
    public static LocalPackageFeed Shared => Packed.Value;

    /// <summary>The folder holding the feed, the private package folder and the copied sources.</summary>
    public string Root { get; }

    /// <summary>The copy of the repository's sources the packages were packed from (README, build/, src/).</summary>
    public string SourcesDirectory { get; }

    /// <summary>The folder feed: Crate.Transforms and Crate.Trainers .nupkg and .snupkg.</summary>
    public string FeedDirectory { get; }

    /// <summary>Where consumers restore the packages that the machine's package folder lacks (the Crate.* test versions).</summary>
    public string PackagesDirectory { get; }

    /// <summary>The packages' version.</summary>
    public string Version { get; }

    /// <summary>The repository this test assembly was built from.</summary>
    public static string RepositoryRoot => Metadata("RepositoryRoot");

    /// <summary>The machine's NuGet package folder, where the solution's restore put TorchSharp and ML.NET.</summary>
    public static string MachinePackagesDirectory => Metadata("NuGetPackageRoot");

    /// <summary>Environment for a NuGet client (dotnet restore, a notebook's #r "nuget: …"): the private package folder, the machine's as fallback.</summary>
    public IReadOnlyDictionary<string, string> NuGetEnvironment => new Dictionary<string, string>
    {
        ["NUGET_PACKAGES"] = PackagesDirectory,
        ["NUGET_FALLBACK_PACKAGES"] = MachinePackagesDirectory,
    };

    /// <summary>A nuget.config in <paramref name="directory"/> that adds the feed to the user's sources.</summary>
    public void WriteNuGetConfig(string directory) =>
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <configuration>
              <packageSources><add key="crate-test-feed" value="{FeedDirectory}" /></packageSources>
            </configuration>
            """);

    /// <summary>Deletes the feed when a test packed it (from the assembly's cleanup).</summary>
    public static void DeleteIfPacked()
    {
        if (Packed.IsValueCreated)
            Directory.Delete(Packed.Value.Root, recursive: true);
    }

    /// <summary>What `dotnet pack` of the two libraries reads: their sources, the shared MSBuild files and the README.</summary>
    private static void CopySources(string repository, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "README.md" })
            File.Copy(Path.Combine(repository, file), Path.Combine(destination, file));
        foreach (string folder in new[] { "build", Path.Combine("src", "Crate.Transforms"), Path.Combine("src", "Crate.Trainers") })
            CopyTree(Path.Combine(repository, folder), Path.Combine(destination, folder));
    }

    private static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(source))
            if (Path.GetFileName(folder) is not ("bin" or "obj"))
                CopyTree(folder, Path.Combine(destination, Path.GetFileName(folder)));
    }

    private static string Metadata(string key) =>
        typeof(LocalPackageFeed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
