using System.IO.Compression;
using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Readouts;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// One loader for the three files a network comes in (model file, pipeline file, authors' checkpoint), told apart by
/// content: each gives the fixture network, checked against PyTorch's logits, and every other file is refused by name.
/// </summary>
[TestClass]
public sealed class CrateNetworkFileTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-network-file-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    /// <summary>The fixture network in each format, under names whose extensions say nothing (or mislead).</summary>
    private Dictionary<CrateNetworkFileFormat, string> FilesOfEachFormat()
    {
        string checkpoint = Path.Combine(directory, "checkpoint.bin");
        File.Copy(FixtureImages.CheckpointPath, checkpoint);
        string model = Path.Combine(directory, "model.zip");
        using (CrateModel imported = FixtureImages.Import()) CrateModelFile.Save(imported, model);
        string pipeline = Path.Combine(directory, "pipeline.safetensors");
        var context = new MLContext(seed: 1);
        var data = FixtureImages.Data(context);
        using (CrateModel imported = FixtureImages.Import())
        using (CrateAttentionTransformer fitted = context.Transforms.CrateAttention(imported, new CrateAttentionOptions { Device = ComputeDevice.Cpu }).Fit(data))
            CratePipelineFile.Save(context, fitted, data.Schema, pipeline);
        return new()
        {
            [CrateNetworkFileFormat.TorchCheckpoint] = checkpoint,
            [CrateNetworkFileFormat.ModelFile] = model,
            [CrateNetworkFileFormat.PipelineFile] = pipeline,
        };
    }

    [TestMethod]
    public void EachFormatIsRecognisedByItsContentAndGivesTheFixtureNetwork()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor input = ReferenceFixtures.Array("crate_square", "input");
        Tensor logits = ReferenceFixtures.Array("crate_square", "logits");
        var square = new CrateArchitecture
        {
            EmbeddingDim = 48, Depth = 3, Heads = 4, HeadDim = 12, PatchSize = 8, ImageHeight = 32, ImageWidth = 32, ClassCount = 7,
        };
        foreach ((CrateNetworkFileFormat format, string path) in FilesOfEachFormat())
        {
            Assert.AreEqual(format, CrateNetworkFile.DetectFormat(path), path);
            CrateArchitecture architecture = CrateNetworkFile.ReadArchitecture(path, FixtureImages.ImportOptions);
            Assert.AreEqual(square, architecture, $"{format}: the fixture table's architecture, from the header");
            using CrateModel loaded = CrateNetworkFile.Load(path, FixtureImages.ImportOptions);
            loaded.eval();
            NumericAssert.AreClose(logits, loaded.forward(input), ReferenceParityTests.Parity, $"{format}: PyTorch's logits");
            Assert.AreEqual(square, CrateNetworkSource.FromFile(path, FixtureImages.ImportOptions).Architecture, $"{format}: the source's architecture");
        }
    }

    [TestMethod]
    public void ReadoutsFromAnyFileGiveTheLiveNetworksMaps()
    {
        var context = new MLContext(seed: 1);
        var data = FixtureImages.Data(context);
        var options = new CrateAttentionOptions { Normalization = FixtureImages.Identity, Device = ComputeDevice.Cpu };
        using CrateModel live = FixtureImages.Import();
        using CrateAttentionTransformer reference = context.Transforms.CrateAttention(live, options).Fit(data);
        float[][] expected = reference.Transform(data).GetColumn<float[]>("Attention").ToArray();
        foreach ((CrateNetworkFileFormat format, string path) in FilesOfEachFormat())
        {
            using CrateAttentionTransformer fitted = context.Transforms.CrateAttention(CrateNetworkSource.FromFile(path, FixtureImages.ImportOptions), options).Fit(data);
            float[][] maps = fitted.Transform(data).GetColumn<float[]>("Attention").ToArray();
            for (int i = 0; i < expected.Length; i++)
                // The same float32 weights through the same code and batch: identical.
                NumericAssert.AreEqual(expected[i], maps[i], $"{format}, image {i}");
        }
    }

    [TestMethod]
    public void OtherFilesAreRefusedWithWhatTheyAre()
    {
        string Write(string name, Action<string> write)
        {
            string path = Path.Combine(directory, name);
            write(path);
            return path;
        }
        string Refusal(string path) => Assert.ThrowsExactly<CheckpointFormatException>(() => CrateNetworkFile.DetectFormat(path)).Message;

        StringAssert.Contains(Refusal(Write("notes.txt", p => File.WriteAllText(p, "not a network"))), "neither a Crate.MLNet model file");
        string zip = Write("other.zip", p =>
        {
            using ZipArchive archive = ZipFile.Open(p, ZipArchiveMode.Create);
            using StreamWriter entry = new(archive.CreateEntry("readme.txt").Open());
            entry.Write("hello");
        });
        StringAssert.Contains(Refusal(zip), "neither a Crate.MLNet pipeline (no manifest.json) nor a torch.save checkpoint (no data.pkl)");
        using var weights = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 8, Depth = 1, Heads = 2, HeadDim = 4, PatchSize = 4, ImageHeight = 8, ImageWidth = 8, ClassCount = 2,
        });
        StringAssert.Contains(Refusal(Write("bare.safetensors", p => SafeTensorsFile.Write(p, weights.state_dict()))), "format '(none)'");
        string training = Write("epoch-0001.safetensors", p => SafeTensorsFile.Write(p, weights.state_dict(),
            new Dictionary<string, string> { ["format"] = "crate-mlnet-training-checkpoint" }));
        StringAssert.Contains(Refusal(training), "ResumeFrom");
        Assert.ThrowsExactly<FileNotFoundException>(() => CrateNetworkFile.DetectFormat(Path.Combine(directory, "missing.safetensors")));
        var noHeads = Assert.ThrowsExactly<ArgumentException>(() => CrateNetworkFile.Load(FixtureImages.CheckpointPath));
        StringAssert.Contains(noHeads.Message, "Heads");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => CrateNetworkSource.FromFile(FixtureImages.CheckpointPath)).Message, "Heads");
    }

    [TestMethod]
    public void APipelineOfTwoNetworksIsRefused()
    {
        var context = new MLContext(seed: 1);
        var data = FixtureImages.Data(context);
        var options = new CrateAttentionOptions { Normalization = FixtureImages.Identity, Device = ComputeDevice.Cpu };
        using CrateModel first = FixtureImages.Import(), second = FixtureImages.Import();
        using var chain = context.Transforms.CrateAttention(first, options)
            .Append(context.Transforms.CrateAttention(second, options with { OutputColumnName = "B" })).Fit(data);
        string path = Path.Combine(directory, "two.zip");
        CratePipelineFile.Save(context, chain, data.Schema, path);
        Assert.AreEqual(CrateNetworkFileFormat.PipelineFile, CrateNetworkFile.DetectFormat(path));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CrateNetworkFile.Load(path)).Message, "2 different CRATE networks");
    }
}
