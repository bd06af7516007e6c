using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Tests.Checkpoints;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>The PyTorch fixture network crate_square (32×32, patch 8, 4 heads of 12, 3 layers) and its two input images.</summary>
internal static class FixtureImages
{
    public sealed class Row
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = [];
    }

    /// <summary>
    /// The fixture inputs are network inputs (roughly N(0, 1), all within ±4.1), while a float image column holds pixels
    /// in [0, 1]: <see cref="AsPixels"/> stores x as x/16 + 1/2, and this normalisation, (y − 1/2)·16, gives x back
    /// (exactly but for the rounding of the addition, at most 5e-7).
    /// </summary>
    public static readonly ImageNormalization Identity = new() { Mean = [0.5f, 0.5f, 0.5f], Std = [1f / 16, 1f / 16, 1f / 16] };

    /// <summary>A fixture network input [3, H, W] as float pixels in [0, 1], which <see cref="Identity"/> turns back.</summary>
    public static float[] AsPixels(Tensor networkInput) => networkInput.flatten().data<float>().ToArray().Select(x => x / 16 + 0.5f).ToArray();

    public static string CheckpointPath => ReferenceFixtures.PathOf("crate_square.pt");

    public static readonly CheckpointImportOptions ImportOptions = new() { Heads = 4 };

    /// <summary>A fresh import of the fixture network.</summary>
    public static CrateModel Import() => CrateCheckpointImporter.Import(CheckpointPath, ImportOptions);

    /// <summary>[2, 3, 32, 32].</summary>
    public static Tensor Inputs() => ReferenceFixtures.Array("crate_square", "input");

    public static IDataView Data(MLContext context)
    {
        using Tensor inputs = Inputs();
        Row[] rows = Enumerable.Range(0, 2).Select(i => new Row { Image = AsPixels(inputs[i]) }).ToArray();
        return context.Data.LoadFromEnumerable(rows);
    }

    /// <summary>Writes an opaque PNG of <paramref name="width"/>×<paramref name="height"/> random pixels drawn from <paramref name="random"/>.</summary>
    public static void SaveRandomPng(string path, int width, int height, Random random)
    {
        var rgba = new byte[width * height * 4];
        random.NextBytes(rgba);
        for (int p = 3; p < rgba.Length; p += 4) rgba[p] = 255;
        using MLImage image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
    }

    /// <summary>The fixture network saved as a Crate.MLNet model file at a temporary path (deleted by the caller).</summary>
    public static string SaveModelFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-fixture-{Guid.NewGuid():N}.safetensors");
        using CrateModel model = Import();
        CrateModelFile.Save(model, path);
        return path;
    }
}
