using System.Reflection;
using Crate.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Crate.SegmentService.Tests;

/// <summary>
/// The service's command line as docs/serving.md writes it: <c>--help</c> on the service and on <c>make-model</c>
/// (nothing is served or written), <c>make-model --layer</c>, and relative paths taken from the folder the user ran
/// <c>dotnet run --project samples/Crate.SegmentService</c> in, the repository root, not the project folder.
/// </summary>
[TestClass]
public sealed class CommandLineTests
{
    private static readonly string Root = typeof(CommandLineTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)] // serving instead of answering would never return
    public void HelpIsAnsweredEverywhereAndNothingIsServed()
    {
        var output = new StringWriter();
        Assert.AreEqual(0, SegmentServiceApp.Run(["--help", "--urls", "http://127.0.0.1:0"], output, TextWriter.Null));
        foreach (string option in new[] { "--urls", "--Segmentation:ModelPath", "make-model --help", "MaskCutLayer" })
            StringAssert.Contains(output.ToString(), option);
        foreach (string help in new[] { "--help", "-h", "-?" })
        {
            var made = new StringWriter();
            Assert.AreEqual(0, SegmentServiceApp.Run(["make-model", "--output", "never.zip", help], made, TextWriter.Null), help);
            foreach (string option in new[] { "--output", "--from", "--layer", "--maskcut-side", "--max-objects", "--epochs" })
                StringAssert.Contains(made.ToString(), option, help);
        }
        Assert.IsFalse(File.Exists("never.zip"), "--help writes nothing");
    }

    [TestMethod]
    public void MakeModelLayerChoosesMaskCutsLayer()
    {
        string folder = Directory.CreateTempSubdirectory("crate-service-layer-").FullName;
        try
        {
            string training = Path.Combine(folder, "training.zip"), served = Path.Combine(folder, "served.zip");
            StartupTests.SaveTrainingPipeline(training, depth: 3);
            foreach ((string[] layer, int expected) in new[] { (new[] { "--layer", "0" }, 0), (new[] { "--layer", "1" }, 1), ([], 2) })
            {
                var output = new StringWriter();
                Assert.AreEqual(0, ModelCommand.Run(["--from", training, "--output", served, "--maskcut-side", "16", .. layer], output, output), output.ToString());
                using SegmentationModel model = SegmentationModel.Load(new SegmentationServiceOptions { ModelPath = served }, NullLogger.Instance);
                Assert.AreEqual(expected, model.Description.MaskCut?.Layer, $"make-model {string.Join(' ', layer)} (none: the last of 3 layers)");
            }
            var errors = new StringWriter();
            Assert.AreEqual(1, ModelCommand.Run(["--from", training, "--output", served, "--layer", "3"], TextWriter.Null, errors));
            StringAssert.Contains(errors.ToString(), "3");

            // The default model (made small here): layer 1 unless told, any of its 4 layers when told.
            string[] small = ["--output", served, "--training-images", "16", "--epochs", "1", "--maskcut-side", "32"];
            foreach ((string[] layer, int expected) in new (string[], int)[] { ([], 1), (["--layer", "3"], 3) })
            {
                var output = new StringWriter();
                Assert.AreEqual(0, ModelCommand.Run([.. small, .. layer], output, output), output.ToString());
                using SegmentationModel model = SegmentationModel.Load(new SegmentationServiceOptions { ModelPath = served }, NullLogger.Instance);
                Assert.AreEqual(expected, model.Description.MaskCut?.Layer, $"the default model, {string.Join(' ', layer)}");
            }
            Assert.AreEqual(1, ModelCommand.Run([.. small, "--layer", "4"], TextWriter.Null, errors));
            StringAssert.Contains(errors.ToString(), "MaskCutLayer must be a layer of the default network, 0 to 3 (is 4)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// <c>dotnet run --project samples/Crate.SegmentService -- make-model --from crate-quickstart-output/…/crate-shapes.zip
    /// --output crate-quickstart-output/…/model.zip</c> in the repository root (a folder of its own under the Quickstart's
    /// output, removed after): both paths are the root's. Before the fix the Web SDK ran the app in the project folder,
    /// where neither exists.
    /// </summary>
    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void TheDocsCommandsRunFromTheRepositoryRoot()
    {
        string quickstart = Path.Combine(Root, "crate-quickstart-output");
        bool madeQuickstartFolder = !Directory.Exists(quickstart);
        string relative = $"crate-quickstart-output/test-{Guid.NewGuid():N}";
        string folder = Path.Combine(Root, relative);
        Directory.CreateDirectory(folder);
        try
        {
            StartupTests.SaveTrainingPipeline(Path.Combine(folder, "crate-shapes.zip"), depth: 2);
            string[] run = ["run", "--project", "samples/Crate.SegmentService", "--"];
            TimeSpan timeout = TimeSpan.FromMinutes(4);
            string made = ExternalProcess.Run("dotnet",
                [.. run, "make-model", "--output", $"{relative}/model.zip", "--from", $"{relative}/crate-shapes.zip", "--maskcut-side", "16", "--layer", "0"],
                Root, timeout);
            Assert.IsTrue(File.Exists(Path.Combine(folder, "model.zip")), $"model.zip is in the folder the command was run in. {made}");
            Assert.IsFalse(Directory.Exists(Path.Combine(Root, "samples", "Crate.SegmentService", "crate-quickstart-output")), "nothing lands in the project folder");
            using (SegmentationModel model = SegmentationModel.Load(new SegmentationServiceOptions { ModelPath = Path.Combine(folder, "model.zip") }, NullLogger.Instance))
                Assert.AreEqual(0, model.Description.MaskCut?.Layer);

            StringAssert.Contains(ExternalProcess.Run("dotnet", [.. run, "make-model", "--help"], Root, timeout), "--layer N");
            // Served, this would run until the timeout kills it and fails the test.
            StringAssert.Contains(ExternalProcess.Run("dotnet", [.. run, "--help", "--urls", "http://127.0.0.1:0"], Root, timeout), "Usage: Crate.SegmentService");
        }
        finally
        {
            Directory.Delete(madeQuickstartFolder ? quickstart : folder, recursive: true);
        }
    }
}
