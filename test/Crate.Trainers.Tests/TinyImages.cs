using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests;

/// <summary>
/// Hand-made labelled images as float vectors [3, 16, 16] in [0, 1]: "left" images carry a fine checkerboard on
/// their left half, "right" ones on their right half, "top" ones on their top half; the rest is flat grey, with
/// seeded noise everywhere. The classes differ in texture, not brightness, because CRATE's first LayerNorm
/// normalises each patch: a uniformly bright and a uniformly dark patch become the same vector. Easy enough
/// for a tiny CRATE to learn in seconds, so the trainer's mechanics can be tested quickly.
/// </summary>
internal static class TinyImages
{
    public const int Side = 16;
    public static readonly string[] Classes = ["left", "right", "top"];

    public sealed class Row
    {
        [VectorType(3, Side, Side)]
        public float[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public static Row[] Rows(int count, int seed, int height = Side, int width = Side)
    {
        var random = new Random(seed);
        var rows = new Row[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % Classes.Length;
            var pixels = new float[3 * height * width];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        bool textured = label switch { 0 => x < width / 2, 1 => x >= width / 2, _ => y < height / 2 };
                        float value = textured ? ((x + y) % 2 == 0 ? 0.85f : 0.15f) : 0.5f;
                        pixels[(c * height + y) * width + x] = Math.Clamp(value + (float)(random.NextDouble() - 0.5) * 0.2f, 0, 1);
                    }
            rows[i] = new Row { Image = pixels, Label = Classes[label] };
        }
        return rows;
    }

    /// <summary>Rows as an IDataView whose image column is [3, <paramref name="height"/>, <paramref name="width"/>].</summary>
    public static IDataView Load(MLContext context, IEnumerable<Row> rows, int height = Side, int width = Side)
    {
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, height, width);
        return context.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>The rows with the label mapped to a key, as the trainer expects.</summary>
    public static IDataView Keyed(MLContext context, IEnumerable<Row> rows, int height = Side, int width = Side)
    {
        IDataView data = Load(context, rows, height, width);
        return context.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    /// <summary>
    /// Options for a tiny CRATE on these images: d 32, 2 layers, 2 heads, patch 4, no augmentation, Lion at 2e-3 with
    /// the schedule advancing per epoch (the trainer's defaults before 2026-12-07, which these tests were sized for),
    /// and the reference initialisation; two shards whatever the machine's core count. These classes differ only in where the texture is, and the reference's standard-normal
    /// positional embedding gives every token its position from the first step; under the trainer's default
    /// (<see cref="CrateInitialization.Orthogonal"/>, positions with standard deviation 0.02) the same 96 Lion steps
    /// reach 40 % (chance 33 %), measured, as docs/emergence.md records.
    /// </summary>
    public static CrateTrainerOptions Options(int epochs = 3) => new()
    {
        ModelSize = CrateModelSize.Custom, EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 4,
        ImageHeight = Side, ImageWidth = Side, Epochs = epochs, BatchSize = 8, Optimizer = CrateOptimizerKind.Lion, LearningRate = 2e-3,
        Schedule = ScheduleGranularity.PerEpoch, WarmupEpochs = 0,
        RandomResizedCrop = false, HorizontalFlip = false, Seed = 5, Device = Crate.Transforms.ComputeDevice.Cpu, NumberOfThreads = 2,
        Initialization = CrateInitialization.Reference,
        Normalization = new Crate.Transforms.MLNet.ImageNormalization { Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f] },
    };
}
