using TorchSharp;

[assembly: DoNotParallelize]

namespace Crate.Transforms.Tests;

[TestClass]
public static class AssemblySetup
{
    [AssemblyInitialize]
    public static void Initialize(TestContext _)
    {
        // Tests compare against fixtures computed in float32 by PyTorch; determinism matters more than speed.
        torch.manual_seed(20231123);
    }

    [AssemblyCleanup]
    public static void Cleanup() => Build.LocalPackageFeed.DeleteIfPacked();
}
