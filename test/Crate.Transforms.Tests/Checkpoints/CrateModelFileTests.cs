using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>Saving and loading Crate.MLNet model files: exact round trips and refusals of files it must not read.</summary>
[TestClass]
public sealed class CrateModelFileTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-model-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private static readonly CrateArchitecture Rectangular = new()
    {
        EmbeddingDim = 24, Depth = 2, Heads = 3, HeadDim = 6, PatchSize = 4, ImageHeight = 12, ImageWidth = 20, ClassCount = 5,
        Pooling = TokenPooling.Mean, Variant = CrateVariant.CrateSoftThreshold, IstaStepSize = 0.2,
    };

    [TestMethod]
    public void SaveThenLoadGivesIdenticalLogits()
    {
        using var scope = NewDisposeScope();
        using var saved = new CrateModel(Rectangular);
        string path = Path.Combine(directory, "model.safetensors");
        CrateModelFile.Save(saved, path);
        using CrateModel loaded = CrateModelFile.Load(path);
        Assert.AreEqual(Rectangular, loaded.Architecture);
        using var noGrad = no_grad();
        Tensor input = randn(3, 3, 12, 20);
        NumericAssert.AreEqual(saved.forward(input), loaded.forward(input), "logits");
    }

    [TestMethod]
    public void ImportSaveLoadGivesTheImportsLogits()
    {
        using var scope = NewDisposeScope();
        using CrateModel imported = ReferenceParityTests.ImportFixture("crate_square", out _);
        string path = Path.Combine(directory, "square.safetensors");
        CrateModelFile.Save(imported, path);
        using CrateModel loaded = CrateModelFile.Load(path);
        using var noGrad = no_grad();
        Tensor input = ReferenceFixtures.Array("crate_square", "input");
        NumericAssert.AreEqual(imported.forward(input), loaded.forward(input), "logits");
    }

    [TestMethod]
    public void MetadataHoldsFormatArchitectureAndVersions()
    {
        using var model = new CrateModel(Rectangular);
        string path = Path.Combine(directory, "model.safetensors");
        CrateModelFile.Save(model, path);
        Dictionary<string, string> metadata = SafeTensorsFile.ReadMetadata(path);
        Assert.AreEqual("crate-mlnet-model", metadata["format"]);
        Assert.AreEqual("1", metadata["format_version"]);
        Assert.AreEqual(Rectangular, CrateArchitecture.FromJson(metadata["architecture"]));
        Assert.StartsWith("0.1.0", metadata["crate_mlnet_version"]);
        Assert.StartsWith("0.107.0", metadata["torchsharp_version"]);
        Assert.AreEqual(Rectangular, CrateModelFile.ReadArchitecture(path));
    }

    [TestMethod]
    public void NewerFormatVersionIsRefused()
    {
        using var model = new CrateModel(Rectangular);
        string path = Path.Combine(directory, "future.safetensors");
        SafeTensorsFile.Write(path, model.state_dict(), new Dictionary<string, string>
        {
            ["format"] = "crate-mlnet-model", ["format_version"] = "2", ["architecture"] = Rectangular.ToJson(),
        });
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => CrateModelFile.Load(path));
        Assert.Contains("written by a newer Crate.MLNet (format 2); this version reads format 1", e.Message);
    }

    [TestMethod]
    public void SafetensorsOfAnotherKindIsRefused()
    {
        using var model = new CrateModel(Rectangular);
        string path = Path.Combine(directory, "other.safetensors");
        SafeTensorsFile.Write(path, model.state_dict(), new Dictionary<string, string> { ["format"] = "pt" });
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => CrateModelFile.Load(path));
        Assert.Contains("not a Crate.MLNet model file", e.Message);
        Assert.Contains("'pt'", e.Message);
    }

    [TestMethod]
    public void MissingWeightIsRefusedStrictly()
    {
        using var model = new CrateModel(Rectangular);
        string path = Path.Combine(directory, "model.safetensors");
        CrateModelFile.Save(model, path);
        (Dictionary<string, Tensor> weights, Dictionary<string, string> metadata) = SafeTensorsFile.Read(path);
        weights.Remove("layers.1.feedforward.dictionary", out Tensor? removed);
        removed!.Dispose();
        SafeTensorsFile.Write(path, weights, metadata);
        CheckpointMismatchException e = Assert.ThrowsExactly<CheckpointMismatchException>(() => CrateModelFile.Load(path));
        CollectionAssert.AreEqual(new[] { "layers.1.feedforward.dictionary" }, e.MissingKeys.ToArray());
        Assert.Contains("layers.1.feedforward.dictionary", e.Message);
        foreach (Tensor weight in weights.Values)
            weight.Dispose();
    }

    [TestMethod]
    public void MissingFileThrowsFileNotFound()
    {
        string path = Path.Combine(directory, "absent.safetensors");
        FileNotFoundException e = Assert.ThrowsExactly<FileNotFoundException>(() => CrateModelFile.Load(path));
        Assert.AreEqual(path, e.FileName);
    }
}
