using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Crate.SegmentService.Tests;

/// <summary>
/// What the tests serve and send: a pipeline file holding a tiny CRATE classifier (random weights from a private
/// generator: d 32, 2 layers of 2 heads, patch 8, 32×32 input, three classes) and MaskCut at 64×64 (an 8×8 grid),
/// and PNG images of the embedded shapes dataset in several sizes, square and not.
/// </summary>
internal static class ServedFixtures
{
    public static readonly string[] Classes = ["disc", "cross", "ring"];

    /// <summary>Writes the tiny served pipeline to <paramref name="path"/>.</summary>
    public static void WritePipeline(string path)
    {
        var context = new MLContext(seed: 0);
        using var generator = new torch.Generator(7);
        using var network = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 8, ImageHeight = 32, ImageWidth = 32, ClassCount = Classes.Length,
        }, generator);
        using var classifier = new CrateClassifierTransformer(network, new CrateClassifierSettings
        {
            ImageHeight = 32, ImageWidth = 32, Labels = new LabelKeyValues("Text", Classes), Device = ComputeDevice.Cpu,
        });
        ServingPipeline.Save(context, classifier, new CrateMaskCutOptions { ImageHeight = 64, ImageWidth = 64, Device = ComputeDevice.Cpu }, path);
    }

    /// <summary>Shapes images as PNG files' bytes: <paramref name="count"/> of them, cycling through a few sizes.</summary>
    public static byte[][] Pngs(int count, int seed)
    {
        (int Height, int Width)[] sizes = [(32, 32), (24, 40), (48, 36), (40, 40)];
        return Enumerable.Range(0, count).Select(i =>
        {
            (int height, int width) = sizes[i % sizes.Length];
            ShapesSample sample = ShapesDataset.Sample(new ShapesDatasetOptions { ImageHeight = height, ImageWidth = width, Count = count, Seed = seed }, i);
            using MLImage image = ShapesDataset.ToImage(sample);
            return Png(image);
        }).ToArray();
    }

    /// <summary>An image's PNG file bytes, as MLImage (SkiaSharp) writes them.</summary>
    public static byte[] Png(MLImage image)
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-service-test-{Guid.NewGuid():N}.png");
        try
        {
            image.Save(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>
/// The single-threaded oracle: the pipeline file loaded here, on its own, and run through ML.NET's batch path
/// (LoadImages from files, then Transform), one image per pass so each sees what a request sees.
/// </summary>
internal sealed class PipelineOracle : IDisposable
{
    private readonly MLContext context = new(seed: 0);
    private readonly ITransformer pipeline;
    private readonly string folder = Path.Combine(Path.GetTempPath(), $"crate-service-oracle-{Guid.NewGuid():N}");

    public PipelineOracle(string pipelinePath)
    {
        pipeline = CratePipelineFile.Load(context, pipelinePath, out _);
        Directory.CreateDirectory(folder);
    }

    /// <summary>The classifier's probabilities and MaskCut's objects for one image file's bytes.</summary>
    public (float[] Probabilities, MaskCutPrediction Objects) Predict(byte[] png)
    {
        string name = $"{Guid.NewGuid():N}.png";
        File.WriteAllBytes(Path.Combine(folder, name), png);
        IDataView files = context.Data.LoadFromEnumerable(new[] { new FileRow { Name = name } });
        IDataView images = context.Transforms.LoadImages("Image", folder, nameof(FileRow.Name)).Fit(files).Transform(files);
        IDataView scored = pipeline.Transform(images);
        float[] probabilities = scored.GetColumn<float[]>("Score").Single();
        MaskCutPrediction objects = context.Data.CreateEnumerable<MaskCutPrediction>(scored, reuseRowObject: false).Single();
        return (probabilities, objects);
    }

    public void Dispose()
    {
        (pipeline as IDisposable)?.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    public sealed class FileRow
    {
        public string Name { get; set; } = "";
    }
}
