using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using Crate.Build;
using Crate.Testing;

namespace Crate.Transforms.Tests.Build;

/// <summary>
/// The packages as a user gets them: `dotnet pack` of Crate.Transforms and Crate.Trainers into a local feed
/// (<see cref="LocalPackageFeed"/>). The packages carry their metadata, XML docs, README, symbols and the native fix;
/// a fresh console app that references Crate.Trainers only (Crate.Transforms comes transitively) restores them from
/// the feed, gets the native fix through buildTransitive, and runs the README's pipeline: train, save, load, predict.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);
    private static readonly string[] ClassNames = ["disc-stripes", "disc-dots", "cross-stripes", "cross-dots"]; // the embedded data's default classes, in index order

    [TestMethod]
    [TestCategory("Slow")]
    public void PackagesCarryMetadataDocsReadmeSymbolsAndTheNativeFix()
    {
        LocalPackageFeed feed = LocalPackageFeed.Shared;
        string root = feed.SourcesDirectory; // what was packed: the repository's README and build/ as of the pack
        foreach (string id in new[] { "Crate.Transforms", "Crate.Trainers" })
        {
            using ZipArchive package = ZipFile.OpenRead(Path.Combine(feed.FeedDirectory, $"{id}.{feed.Version}.nupkg"));
            XElement metadata = Nuspec(package, id);
            Assert.AreEqual(id, Field(metadata, "id"));
            Assert.AreEqual(feed.Version, Field(metadata, "version"));
            Assert.IsGreaterThan(40, Field(metadata, "description").Length, $"{id}: a description a user can judge the package by");
            Assert.AreEqual("MIT", Field(metadata, "license"));
            Assert.AreEqual("expression", metadata.Elements().Single(e => e.Name.LocalName == "license").Attribute("type")!.Value);
            StringAssert.StartsWith(Field(metadata, "projectUrl"), "https://");
            StringAssert.Contains(Field(metadata, "tags"), "CRATE");
            StringAssert.Contains(Field(metadata, "tags"), "ML.NET");
            Assert.AreEqual("README.md", Field(metadata, "readme"));
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(root, "README.md")), Entry(package, "README.md"), $"{id}: the README");
            Assert.IsNotNull(package.GetEntry($"lib/net10.0/{id}.dll"), $"{id}: the assembly");
            XDocument docs = XDocument.Load(new MemoryStream(Entry(package, $"lib/net10.0/{id}.xml")));
            Assert.IsGreaterThan(50, docs.Descendants("member").Count(), $"{id}: the XML docs");

            using ZipArchive symbols = ZipFile.OpenRead(Path.Combine(feed.FeedDirectory, $"{id}.{feed.Version}.snupkg"));
            Assert.IsNotNull(symbols.GetEntry($"lib/net10.0/{id}.pdb"), $"{id}: the symbols");
        }

        using ZipArchive transforms = ZipFile.OpenRead(Path.Combine(feed.FeedDirectory, $"Crate.Transforms.{feed.Version}.nupkg"));
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(root, "build", "Crate.NativeRuntime.targets")),
            Entry(transforms, "buildTransitive/Crate.Transforms.targets"), "the native fix's targets");
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(root, "build", "GlibcxxWeakVersionPatch.cs")),
            Entry(transforms, "buildTransitive/GlibcxxWeakVersionPatch.cs"), "the native fix's task");

        // Crate.Trainers depends on the same version of Crate.Transforms, and its buildTransitive assets flow to the consumer.
        using ZipArchive trainers = ZipFile.OpenRead(Path.Combine(feed.FeedDirectory, $"Crate.Trainers.{feed.Version}.nupkg"));
        XElement dependency = Nuspec(trainers, "Crate.Trainers").Descendants().Single(e => e.Name.LocalName == "dependency" && (string?)e.Attribute("id") == "Crate.Transforms");
        Assert.AreEqual(feed.Version, (string?)dependency.Attribute("version"));
        string excluded = (string?)dependency.Attribute("exclude") ?? "";
        Assert.IsFalse(excluded.Split(',').Any(a => a.Trim().Equals("BuildTransitive", StringComparison.OrdinalIgnoreCase)), excluded);
    }

    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void AppReferencingTheTrainersPackageRunsTheReadmePipeline()
    {
        LocalPackageFeed feed = LocalPackageFeed.Shared;
        string app = Directory.CreateTempSubdirectory("crate-consumer-").FullName;
        try
        {
            WriteConsumerProject(app, feed, "Crate.Trainers");
            // The README's pipeline, small: CRATE-T at patch 8 on 64 images of the embedded data for one epoch.
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using System.Globalization;
                using Crate.Trainers;
                using Crate.Trainers.Data;
                using Crate.Transforms;
                using Crate.Transforms.MLNet;
                using Microsoft.ML;
                using Microsoft.ML.Data;

                Console.WriteLine($"native: {CrateNativeRuntime.EnsureLoadable().Action}");
                var mlContext = new MLContext(seed: 0);
                IDataView images = ShapesDataset.LoadDataView(mlContext, new ShapesDatasetOptions { Count = 64 });
                var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
                    .Append(mlContext.MulticlassClassification.Trainers.Crate(new CrateTrainerOptions
                    {
                        ModelSize = CrateModelSize.Tiny, PatchSize = 8, ImageHeight = 32, ImageWidth = 32, Epochs = 1, BatchSize = 32,
                        Device = ComputeDevice.Cpu,
                    }))
                    .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
                ITransformer model = pipeline.Fit(images);
                CratePipelineFile.Save(mlContext, model, images.Schema, "model.zip");
                using var again = (IDisposable)CratePipelineFile.Load(new MLContext(), "model.zip", out DataViewSchema inputSchema);

                IDataView test = ShapesDataset.LoadDataView(mlContext, new ShapesDatasetOptions { Count = 6, Seed = 2 });
                string Format(float[] scores) => string.Join(' ', scores.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
                string[] before = model.Transform(test).GetColumn<float[]>("Score").Select(Format).ToArray();
                IDataView scored = ((ITransformer)again).Transform(test);
                string[] after = scored.GetColumn<float[]>("Score").Select(Format).ToArray();
                string[] labels = scored.GetColumn<string>("PredictedLabel").ToArray();
                for (int i = 0; i < labels.Length; i++)
                    Console.WriteLine($"row {i}|{labels[i]}|{after[i]}|{before[i]}");
                """);
            ExternalProcess.Run("dotnet", ["build", app, "-c", "Release"], app, BuildTimeout, feed.NuGetEnvironment);
            string output = ExternalProcess.Run("dotnet", [Path.Combine(app, "bin", "Release", "net10.0", "app.dll")], app, BuildTimeout);

            // A built application needs nothing at run time: the build's copy of the native library is already loadable.
            StringAssert.Contains(output, "native: None");
            string[][] rows = output.Split('\n').Where(l => l.StartsWith("row ", StringComparison.Ordinal)).Select(l => l.Split('|')).ToArray();
            Assert.HasCount(6, rows, output);
            foreach (string[] row in rows)
            {
                float[] loaded = row[2].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                Assert.AreEqual(row[3], row[2], $"{row[0]}: the loaded pipeline scores as the fitted one did (same arithmetic, bit for bit)");
                Assert.HasCount(ClassNames.Length, loaded, row[0]);
                // Softmax probabilities in float32: each p_i carries exp's error (≤ 2u), the four-term sum's (≤ 3u) and the
                // division's (u), relative; weighted by p_i they add up to at most 6u off 1. Bound: 8u.
                NumericAssert.AreClose(1.0, loaded.Sum(v => (double)v), new Tolerance(8 * Tolerance.Float32Roundoff), $"{row[0]}: the scores sum");
                // Keys follow first occurrence and image i has class i mod 4, so key k is class k: the label is the top score's class.
                Assert.AreEqual(ClassNames[Array.IndexOf(loaded, loaded.Max())], row[1], row[0]);
            }

            // Only Crate.Trainers is referenced: the fix reached the app through Crate.Transforms' buildTransitive targets.
            string? system = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
            if (system is null || !GlibcxxWeakVersionPatch.LibraryDefinesVersion(system))
            {
                string native = Directory.GetFiles(Path.Combine(app, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories).Single();
                Assert.IsFalse(GlibcxxWeakVersionPatch.MarkWeak(native), "The consumer's build should already have marked the version weak.");
            }
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    /// <summary>
    /// A consumer that manages native libraries itself sets <c>CrateNativeFix=false</c>: its build output keeps the
    /// library NuGet shipped, byte for byte (the oracle: the file in the machine's package folder), and its
    /// runtimeconfig.json carries the switch that turns CrateNativeRuntime off, as does the environment variable.
    /// </summary>
    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void AnAppThatTurnsTheFixOffKeepsNuGetsLibrary()
    {
        LocalPackageFeed feed = LocalPackageFeed.Shared;
        string app = Directory.CreateTempSubdirectory("crate-consumer-off-").FullName;
        try
        {
            WriteConsumerProject(app, feed, "Crate.Transforms", "<CrateNativeFix>false</CrateNativeFix>");
            // Nothing here touches TorchSharp: where the system lacks GLIBCXX_3.4.32 the unpatched library would not load.
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                var status = Crate.Transforms.CrateNativeRuntime.EnsureLoadable();
                Console.WriteLine($"native: {status.Action} | {status.Description}");
                """);
            ExternalProcess.Run("dotnet", ["build", app, "-c", "Release"], app, BuildTimeout, feed.NuGetEnvironment);

            string[] libraries = Directory.GetFiles(Path.Combine(app, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories);
            Assert.IsNotEmpty(libraries, "The build placed TorchSharp's native library in the output.");
            byte[] shipped = File.ReadAllBytes(NativeRuntimeFixTests.ShippedLibrary());
            foreach (string library in libraries)
                CollectionAssert.AreEqual(shipped, File.ReadAllBytes(library), $"{library} is NuGet's file, untouched");

            string dll = Path.Combine(app, "bin", "Release", "net10.0", "app.dll");
            StringAssert.Contains(ExternalProcess.Run("dotnet", [dll], app, BuildTimeout), "native: TurnedOff | Turned off by the run-time switch Crate.NativeFix=false");
            StringAssert.Contains(ExternalProcess.Run("dotnet", [dll], app, BuildTimeout, new Dictionary<string, string> { ["CrateNativeFix"] = "off" }),
                "native: TurnedOff | Turned off by the environment variable CrateNativeFix=off");
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    /// <summary>A console app in <paramref name="app"/> that restores <paramref name="package"/> from the feed, with TorchSharp's
    /// CPU backend and the extra <paramref name="properties"/> (MSBuild property elements).</summary>
    private static void WriteConsumerProject(string app, LocalPackageFeed feed, string package, string properties = "")
    {
        feed.WriteNuGetConfig(app);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable>{properties}</PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{package}" Version="{feed.Version}" />
                <PackageReference Include="TorchSharp-cpu" Version="{typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3)}" />
              </ItemGroup>
            </Project>
            """);
    }

    private static XElement Nuspec(ZipArchive package, string id) =>
        XDocument.Load(new MemoryStream(Entry(package, $"{id}.nuspec"))).Root!.Elements().Single(e => e.Name.LocalName == "metadata");

    private static string Field(XElement metadata, string name) =>
        metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? throw new AssertFailedException($"The nuspec has no <{name}>.");

    private static byte[] Entry(ZipArchive package, string path)
    {
        ZipArchiveEntry entry = package.GetEntry(path) ?? throw new AssertFailedException($"The package has no {path}.");
        using Stream stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
