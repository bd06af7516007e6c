using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Google.Protobuf;
using Onnx;

namespace Crate.Transforms.Tests.Onnx;

/// <summary>What cannot be exported or read back is refused with an exception that names the problem.</summary>
[TestClass]
public sealed class OnnxExportInputTests
{
    private static string folder = "";

    [ClassInitialize]
    public static void CreateFolder(TestContext _)
    {
        folder = Path.Combine(Path.GetTempPath(), $"crate-onnx-tests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
    }

    [ClassCleanup]
    public static void DeleteFolder() => Directory.Delete(folder, recursive: true);

    private static CrateModel SmallModel(CrateVariant variant = CrateVariant.Crate) =>
        new(OnnxParityTests.SmallArchitecture(variant, TokenPooling.Cls, 16, 16));

    [TestMethod]
    public void AVariantTheExporterDoesNotKnowIsRefused()
    {
        using CrateModel model = SmallModel((CrateVariant)99);
        var error = Assert.ThrowsExactly<NotSupportedException>(() => OnnxParityTests.ExportToBytes(model));
        StringAssert.Contains(error.Message, "variant 99");
    }

    [TestMethod]
    public void OptionsThatDoNotFitTheModelAreRefused()
    {
        using CrateModel model = SmallModel(); // 3 layers, patch 4, 3 channels, 5 classes
        (CrateOnnxExportOptions Options, string Named)[] cases =
        [
            (new() { ClsAttentionLayers = [3] }, "layer 3 is out of range"),
            (new() { ClsAttentionLayers = [-1] }, "layer -1 is out of range"),
            (new() { ClsAttentionLayers = [1, 1] }, "lists a layer twice"),
            (new() { HeadFeaturesLayer = 7 }, "layer 7 is out of range"),
            (new() { ImageHeight = 18 }, "ImageHeight 18 must be a positive multiple of the patch size 4"),
            (new() { ImageWidth = 0 }, "ImageWidth 0 must be a positive multiple"),
            (new() { DynamicImageSize = true, ImageWidth = 16 }, "leave ImageHeight and ImageWidth null"),
            (new() { Normalization = new ImageNormalization { Mean = [0.5f], Std = [0.5f] } }, "1 means and 1 standard deviations; the model has 3 channels"),
            (new() { Normalization = new ImageNormalization { Mean = [0, 0, 0], Std = [1, 0, 1] } }, "positive, finite standard deviations"),
            (new() { Normalization = new ImageNormalization { Mean = [0, float.NaN, 0], Std = [1, 1, 1] } }, "finite means"),
            (new() { ClassNames = ["a", "b"] }, "ClassNames has 2 names; the model has 5 classes"),
        ];
        foreach ((CrateOnnxExportOptions options, string named) in cases)
        {
            var error = Assert.Throws<ArgumentException>(() => OnnxParityTests.ExportToBytes(model, options), named);
            StringAssert.Contains(error.Message, named);
        }
    }

    [TestMethod]
    public void WeightsBeyondProtobufsTwoGibibytesAreRefused()
    {
        CrateOnnxExporter.EnsureFitsProtobuf(1L << 30);
        var error = Assert.ThrowsExactly<NotSupportedException>(() => CrateOnnxExporter.EnsureFitsProtobuf(3L << 30));
        StringAssert.Contains(error.Message, "3.00 GiB");
    }

    [TestMethod]
    public void UnwritablePathsAreNamed()
    {
        using CrateModel model = SmallModel();
        string missing = Path.Combine(folder, "no-such-folder", "model.onnx");
        StringAssert.Contains(Assert.ThrowsExactly<DirectoryNotFoundException>(() => CrateOnnxExporter.Export(model, missing)).Message, missing);
        string aFile = Path.Combine(folder, "a-file");
        File.WriteAllText(aFile, "not a folder");
        string underAFile = Path.Combine(aFile, "model.onnx");
        StringAssert.Contains(Assert.ThrowsExactly<DirectoryNotFoundException>(() => CrateOnnxExporter.Export(model, underAFile)).Message, underAFile);
        string aFolder = Path.Combine(folder, "a-folder");
        Directory.CreateDirectory(aFolder);
        StringAssert.Contains(Assert.ThrowsExactly<IOException>(() => CrateOnnxExporter.Export(model, aFolder)).Message, "it is a directory");
    }

    [TestMethod]
    public void AFailedExportLeavesTheExistingFileAndNoTemporaryFile()
    {
        using CrateModel model = SmallModel();
        string path = Path.Combine(folder, "kept.onnx");
        File.WriteAllText(path, "the previous model");
        Assert.Throws<ArgumentException>(() => CrateOnnxExporter.Export(model, path, new CrateOnnxExportOptions { ClsAttentionLayers = [9] }));
        Assert.AreEqual("the previous model", File.ReadAllText(path));
        CrateOnnxExporter.Export(model, path);
        Assert.IsEmpty(Directory.GetFiles(folder, "*.tmp"));
        Assert.AreEqual(model.Architecture, CrateOnnxModelInfo.Read(path).Architecture);
    }

    [TestMethod]
    public void TheExportIsReadBackFromTheMetadata()
    {
        using CrateModel model = SmallModel(CrateVariant.CrateMlp);
        string path = Path.Combine(folder, "described.onnx");
        var options = new CrateOnnxExportOptions
        {
            ImageHeight = 24, ClsAttentionLayers = [2, 0], HeadFeaturesLayer = 1, ClassNames = ["a", "b", "c", "d", "e"],
            Normalization = new ImageNormalization { Mean = [0.1f, 0.2f, 0.3f], Std = [0.4f, 0.5f, 0.6f] },
        };
        CrateOnnxModelInfo written = CrateOnnxExporter.Export(model, path, options);
        CrateOnnxModelInfo read = CrateOnnxModelInfo.Read(path);
        Assert.AreEqual(model.Architecture, read.Architecture);
        Assert.AreEqual(24, read.Options.ImageHeight);
        Assert.AreEqual(16, read.Options.ImageWidth, "the model's own width, resolved at export");
        Assert.IsFalse(read.Options.DynamicImageSize);
        CollectionAssert.AreEqual(new[] { 2, 0 }, read.Options.ClsAttentionLayers.ToArray());
        Assert.AreEqual(1, read.Options.HeadFeaturesLayer);
        CollectionAssert.AreEqual(new[] { "a", "b", "c", "d", "e" }, read.Options.ClassNames!.ToArray());
        CollectionAssert.AreEqual(new[] { 0.1f, 0.2f, 0.3f }, read.Options.Normalization!.Mean);
        CollectionAssert.AreEqual(new[] { 0.4f, 0.5f, 0.6f }, read.Options.Normalization.Std);
        Assert.AreEqual(17L, read.OpsetVersion);
        Assert.AreEqual(written.CrateVersion, read.CrateVersion);
        CollectionAssert.AreEqual(new[] { "logits", "probabilities", "cls_attention", "head_features" }, read.OutputNames.ToArray());
        // ONNX Runtime reads the same file, with the outputs the metadata lists.
        using var onnx = new OnnxRun(path);
        CollectionAssert.AreEqual(read.OutputNames.ToArray(), onnx.Names.Outputs.ToArray());
    }

    [TestMethod]
    public void FilesThatAreNotOurExportsAreRefusedByName()
    {
        string missing = Path.Combine(folder, "missing.onnx");
        StringAssert.Contains(Assert.ThrowsExactly<FileNotFoundException>(() => CrateOnnxModelInfo.Read(missing)).Message, missing);

        // A valid ONNX model from elsewhere: one Relu, no Crate.MLNet metadata.
        var graph = new GraphProto { Name = "foreign" };
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "y" } });
        var foreign = new ModelProto { IrVersion = 8, ProducerName = "pytorch", Graph = graph };
        foreign.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        AssertRefused(foreign.ToByteArray(), "foreign.onnx", "not one exported by Crate.MLNet", "producer 'pytorch'");

        byte[] ours = OnnxParityTests.ExportToBytes(SmallModel());
        AssertRefused(ours[..(ours.Length / 2)], "truncated.onnx", "not a readable ONNX model");
        AssertRefused("hello, world"u8.ToArray(), "text.onnx", "");
        AssertRefused([], "empty.onnx", "not an ONNX model: it has no IR version");
        string safetensors = Path.Combine(folder, "model.safetensors");
        using (CrateModel model = SmallModel()) CrateModelFile.Save(model, safetensors);
        AssertRefused(File.ReadAllBytes(safetensors), "model-file.onnx", "");

        ModelProto newer = ModelProto.Parser.ParseFrom(ours);
        newer.MetadataProps.Single(p => p.Key == CrateOnnxModelInfo.FormatVersionKey).Value = "2";
        AssertRefused(newer.ToByteArray(), "newer.onnx", "newer Crate.MLNet (format 2)");
        ModelProto broken = ModelProto.Parser.ParseFrom(ours);
        broken.MetadataProps.Single(p => p.Key == CrateOnnxModelInfo.ArchitectureKey).Value = "{\"EmbeddingDim\": -3}";
        AssertRefused(broken.ToByteArray(), "broken.onnx", "unusable Crate.MLNet metadata");
    }

    private static void AssertRefused(byte[] content, string name, params string[] named)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, content);
        var error = Assert.ThrowsExactly<CrateOnnxFormatException>(() => CrateOnnxModelInfo.Read(path), name);
        StringAssert.Contains(error.Message, path, "the message names the file");
        foreach (string part in named) StringAssert.Contains(error.Message, part);
    }
}
