using Crate.Testing;

namespace Crate.Transforms.Tests.Build;

/// <summary>
/// build/cuda-check.sh, the one command that checks a GPU machine, checked where there is no GPU: it parses, it says
/// what to do instead of failing obscurely, and its MSBuild switch swaps the CPU backend for the CUDA one (the
/// project's evaluated package references, read from MSBuild itself). The checks it runs (Crate.Benchmarks
/// --cuda-check) take a minute on the CPU, so they are run by hand (docs/performance.md), not here.
/// </summary>
[TestClass]
public sealed class CudaCheckScriptTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static string Root => LocalPackageFeed.RepositoryRoot;

    [TestMethod]
    public void TheScriptParsesAndWithoutADriverPointsToItsCpuRun()
    {
        string script = Path.Combine(Root, "build", "cuda-check.sh");
        ExternalProcess.Run("bash", ["-n", script], Root, Timeout);
        bool hasDriver = ExternalProcess.RunToExit("bash", ["-c", "command -v nvidia-smi"], Root, Timeout).ExitCode == 0;
        if (hasDriver) return; // with a driver the script builds and runs everything: not a unit test's work
        ExternalProcess.Result result = ExternalProcess.RunToExit("bash", [script], Root, Timeout);
        Assert.AreEqual(2, result.ExitCode, result.Describe());
        StringAssert.Contains(result.Error, "build/cuda-check.sh --cpu");
    }

    /// <summary>The benchmarks and the service they reference (which brings TorchSharp-cpu of its own) switch together.</summary>
    [TestMethod]
    public void TheBackendPropertySwapsTorchSharpCpuForTorchSharpCudaLinux()
    {
        foreach (string project in new[] { "test/Crate.Benchmarks/Crate.Benchmarks.csproj", "samples/Crate.SegmentService/Crate.SegmentService.csproj" })
        {
            string References(string? backend) => ExternalProcess.Run("dotnet",
                ["msbuild", Path.Combine(Root, project), "-getItem:PackageReference", .. backend is null ? Array.Empty<string>() : [$"-p:TorchSharpBackend={backend}"]],
                Root, Timeout);
            string unset = References(null), gpu = References("cuda");
            StringAssert.Contains(unset, "\"TorchSharp-cpu\"", project);
            Assert.DoesNotContain("TorchSharp-cuda-linux", unset, project);
            StringAssert.Contains(gpu, "\"TorchSharp-cuda-linux\"", project);
            Assert.DoesNotContain("TorchSharp-cpu", gpu, project);
        }
    }
}
