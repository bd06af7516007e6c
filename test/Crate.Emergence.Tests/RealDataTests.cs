using System.Reflection;
using System.Text.Json.Nodes;
using Crate.Emergence;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence.Tests;

/// <summary>
/// The --voc / --coco path on the repository's small fixture trees, with every kind of model file a user brings: the
/// authors' checkpoint layout (the PyTorch fixture crate_square.pt), a Crate.MLNet model file and a saved pipeline.
/// Checked on the report's structure and that every number is a finite percentage.
/// </summary>
[TestClass]
public sealed class RealDataTests
{
    private static readonly string Root = typeof(RealDataTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
    internal static readonly string Fixtures = Path.Combine(Root, "test", "Crate.Transforms.Tests", "Fixtures");
    internal static readonly string Checkpoint = Path.Combine(Fixtures, "crate_square.pt");

    [TestMethod]
    public void VocFixtureTreeWithACheckpointAModelFileAndAPipeline()
    {
        string directory = Directory.CreateTempSubdirectory("crate-emergence-voc-").FullName;
        try
        {
            // The same network as our model file, and a small classifier trained here and saved as a pipeline.
            string modelFile = Path.Combine(directory, "imported.safetensors");
            using (CrateModel imported = CrateCheckpointImporter.Import(Checkpoint, new CheckpointImportOptions { Heads = 4 }))
                CrateModelFile.Save(imported, modelFile);
            string pipelineFile = Path.Combine(directory, "pipeline.zip");
            SavePipeline(pipelineFile);

            string report = Path.Combine(directory, "report");
            // The fixture tree's "pipeline" split holds its two images larger than a patch (the others are a few pixels wide).
            int exit = ReportSmokeTests.RunCommand("--voc", Path.Combine(Fixtures, "segmentation", "voc"), "--voc-split", "pipeline", "--model", Checkpoint, modelFile, pipelineFile,
                "--checkpoint-heads", "4", "--input-size", "32", "--pictures", "2", "--device", "Cpu", "--plain", "--output", report);
            Assert.AreEqual(0, exit);
            foreach (string file in new[] { "report.md", "results.json", "layers.png", "attention.png", "pca.png", "maskcut.png",
                         "heads.png" })
                Assert.IsTrue(File.Exists(Path.Combine(report, file)), $"{file} is written");
            string markdown = File.ReadAllText(Path.Combine(report, "report.md"));
            StringAssert.Contains(markdown, "PASCAL VOC 2012 pipeline");
            ReportSmokeTests.CheckTables(markdown, layers: 3, seeds: 1, models: ["crate_square", "imported", "pipeline"]);

            // The checkpoint and the model file hold the same network: the same numbers, layer for layer.
            ExperimentResult result = ReportWriter.ReadResults(Path.Combine(report, "results.json"));
            ModelResult checkpoint = result.Models.Single(m => m.Model == "crate_square"), saved = result.Models.Single(m => m.Model == "imported");
            Assert.HasCount(2, result.Models.Single(m => m.Model == "pipeline").Layers, "the pipeline's network has 2 layers");
            for (int l = 0; l < 3; l++)
                foreach (Metric metric in Metrics.All)
                    Assert.AreEqual(Metrics.Value(checkpoint.Layers[l], metric), Metrics.Value(saved.Layers[l], metric), $"layer {l} {metric}");
            // VOC's fixture images hold objects, so eq. 13-14 and the foreground metrics are defined for every layer.
            Assert.IsTrue(checkpoint.Layers.All(l => double.IsFinite(l.BestHeadMeanIoU) && double.IsFinite(l.MergedMaskIoU) && double.IsFinite(l.VocMeanIoU)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void CocoTreeOfTheFixtureAnnotations()
    {
        // The pycocotools fixture's ground truth (polygons, crowd regions, an empty category) with images made to its sizes.
        string tree = Directory.CreateTempSubdirectory("crate-emergence-coco-").FullName;
        try
        {
            WriteCocoTree(tree);
            string report = Path.Combine(tree, "report");
            int exit = ReportSmokeTests.RunCommand("--coco", tree, "--model", Checkpoint, "--checkpoint-heads", "4", "--input-size", "32",
                "--pictures", "2", "--layers", "2", "3", "--device", "Cpu", "--plain", "--output", report);
            Assert.AreEqual(0, exit);
            string markdown = File.ReadAllText(Path.Combine(report, "report.md"));
            StringAssert.Contains(markdown, "COCO tiny");
            ReportSmokeTests.CheckTables(markdown, layers: 2, seeds: 1, models: ["crate_square"], firstLayer: 2);
            ExperimentResult result = ReportWriter.ReadResults(Path.Combine(report, "results.json"));
            CollectionAssert.AreEqual(new[] { 1, 2 }, result.Models.Single(m => m.Role == ModelRole.Given).Layers.Select(l => l.Layer).ToArray(), "--layers is 1-based");
        }
        finally
        {
            Directory.Delete(tree, recursive: true);
        }
    }

    /// <summary>
    /// A COCO tree in <paramref name="tree"/> (split "tiny"): the pycocotools fixture's ground truth (8 images; polygons,
    /// crowd regions, an empty category) with random images made to its sizes.
    /// </summary>
    internal static void WriteCocoTree(string tree)
    {
        Directory.CreateDirectory(Path.Combine(tree, "annotations"));
        string annotations = Path.Combine(tree, "annotations", "instances_tiny.json");
        File.Copy(Path.Combine(Fixtures, "Coco", "masks_gt.json"), annotations);
        Directory.CreateDirectory(Path.Combine(tree, "tiny"));
        var random = new Random(3);
        foreach (JsonNode? image in JsonNode.Parse(File.ReadAllText(annotations))!["images"]!.AsArray())
        {
            int width = (int)image!["width"]!, height = (int)image["height"]!;
            var rgba = new byte[4 * width * height];
            random.NextBytes(rgba);
            using MLImage picture = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
            picture.Save(Path.Combine(tree, "tiny", (string)image["file_name"]!));
        }
    }

    [TestMethod]
    public void BadInputIsRefusedByName()
    {
        string voc = Path.Combine(Fixtures, "segmentation", "voc");
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}.safetensors");
        StringAssert.Contains(Refused("--voc", voc, "--model", missing), missing);
        StringAssert.Contains(Refused("--voc", voc, "--model", Checkpoint), "--checkpoint-heads");
        StringAssert.Contains(Refused("--voc", voc), "--model");
        StringAssert.Contains(Refused("--voc", voc + "-missing", "--model", Checkpoint, "--checkpoint-heads", "4"), voc + "-missing");
        StringAssert.Contains(Refused("--model", Checkpoint), "--voc or --coco");
        StringAssert.Contains(Refused("--radius", "3"), "--radius");
    }

    /// <summary>Runs the command (into a scratch --output unless it names one), expects exit code 2, and returns what it wrote to standard error.</summary>
    internal static string Refused(params string[] args)
    {
        TextWriter error = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            string[] output = args.Contains("--output") ? [] : ["--output", Path.Combine(Path.GetTempPath(), "crate-emergence-refused")];
            Assert.AreEqual(2, ReportSmokeTests.RunCommand([.. args, "--plain", .. output]), string.Join(' ', args));
        }
        finally
        {
            Console.SetError(error);
        }
        return captured.ToString();
    }

    /// <summary>A 2-layer classifier trained for one epoch on a few embedded images, saved as an ML.NET pipeline.</summary>
    private static void SavePipeline(string path)
    {
        var context = new MLContext(seed: 0);
        IDataView images = SceneDataset.LoadTrainingDataView(context, new SceneDatasetOptions
        {
            Count = 8, ImageHeight = 32, ImageWidth = 32, ObjectRadius = (5, 9), Seed = 1,
        });
        ITransformer model = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(new CrateTrainerOptions
            {
                ModelSize = CrateModelSize.Custom, EmbeddingDim = 16, Depth = 2, Heads = 2, HeadDim = 8, PatchSize = 8,
                ImageHeight = 32, ImageWidth = 32, Epochs = 1, BatchSize = 8, Device = ComputeDevice.Cpu,
            }))
            .Fit(images);
        CratePipelineFile.Save(context, model, images.Schema, path);
        (model as IDisposable)?.Dispose();
    }
}
