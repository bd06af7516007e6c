using System.Diagnostics;
using System.Reflection;
using Crate.Build;

namespace Crate.Transforms.Tests.Build;

/// <summary>
/// A user's application that references the Crate.Transforms package (not the project) gets the native fix
/// from the package's buildTransitive targets: it builds, loads TorchSharp and runs a network.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void AppReferencingThePackageLoadsTorchSharp()
    {
        string root = Metadata("RepositoryRoot");
        string work = Directory.CreateTempSubdirectory("crate-consumer-").FullName;
        try
        {
            // A version of its own, so the package cache never serves an older build of the package.
            string version = $"0.0.0-test{DateTime.UtcNow:yyyyMMddHHmmssfff}";
            string feed = Path.Combine(work, "feed");
            Run("dotnet", ["pack", Path.Combine(root, "src", "Crate.Transforms"), "-c", "Release", "-o", feed, $"-p:Version={version}"], root);
            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"),
                $"""<configuration><packageSources><add key="crate-test" value="{feed}" /></packageSources></configuration>""");
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Crate.Transforms" Version="{version}" />
                    <PackageReference Include="TorchSharp-cpu" Version="{typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3)}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using var model = new Crate.Transforms.Network.CrateModel(Crate.Transforms.Network.CrateArchitecture.Tiny(classCount: 10));
                System.Console.WriteLine($"parameters {model.ParameterCount}");
                """);
            Run("dotnet", ["build", app, "-c", "Release"], app);
            string output = Run("dotnet", [Path.Combine(app, "bin", "Release", "net10.0", "app.dll")], app);
            StringAssert.Contains(output, "parameters 5709706"); // CRATE-T/16 at 224 with 10 classes
            string? system = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
            if (system is null || !GlibcxxWeakVersionPatch.LibraryDefinesVersion(system))
            {
                string native = Directory.GetFiles(Path.Combine(app, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories).First();
                Assert.IsFalse(GlibcxxWeakVersionPatch.MarkWeak(native), "The consumer's build should already have marked the version weak.");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Metadata(string key) =>
        typeof(PackageConsumerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static string Run(string program, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, $"{program} {string.Join(' ', arguments)} failed:\n{output}\n{error.Result}");
        return output;
    }
}
