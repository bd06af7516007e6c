using System.Collections.Concurrent;
using Crate.Trainers.Augmentation;
using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Data;

/// <summary>Options of <see cref="GarmentScenes"/>.</summary>
public sealed record GarmentSceneOptions
{
    /// <summary>The folder of Fashion-MNIST's IDX files. Default Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist.</summary>
    public string Folder { get; init; } = "/usr/share/datasets/fashion-mnist";

    /// <summary>Fashion-MNIST's split the garments come from: "train" (60,000) or "t10k" (10,000). Default "train".</summary>
    public string Split { get; init; } = "train";

    /// <summary>Images: image i holds garment photograph i of the split. Default 12,000.</summary>
    public int Count { get; init; } = 12_000;

    /// <summary>Seed of each image's background, colour, size and place. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Image side in pixels. Default 48.</summary>
    public int ImageSize { get; init; } = 48;

    /// <summary>The garment's side after scaling, in pixels, drawn uniformly in this range. Default (20, 28): Fashion-MNIST's own 28 at most.</summary>
    public (int Low, int High) GarmentSize { get; init; } = (20, 28);

    internal void Validate()
    {
        void Require(bool ok, string name, string why) => ObjectClasses.Require(nameof(GarmentSceneOptions), ok, name, why);
        Require(Split is "train" or "t10k", nameof(Split), "must be \"train\" or \"t10k\"");
        Require(Count >= 1, nameof(Count), "must be at least 1");
        Require(GarmentSize.Low >= 4 && GarmentSize.Low <= GarmentSize.High, nameof(GarmentSize), "must satisfy 4 ≤ low ≤ high");
        Require(GarmentSize.High <= ImageSize, nameof(GarmentSize), $"high end {GarmentSize.High} does not fit a {ImageSize}-pixel image");
    }
}

/// <summary>
/// A second kind of labelled image, built from real photographs: Fashion-MNIST's garments (10 classes), each tinted
/// a random colour, scaled and pasted at a random place on the cluttered background of <see cref="SceneDataset"/>
/// (a smooth colour field, a faint grating, thin lines, pixel noise). The class is the garment's; its mask is where the
/// photograph's intensity is at least half of <see cref="OpaqueIntensity"/>. Used to check that the trainer's defaults
/// train on images that were not drawn by our own painter (docs/emergence.md, "Defaults that train"). Needs the files,
/// which CI does not have.
/// </summary>
public static class GarmentScenes
{
    /// <summary>A photograph's intensity (0-255) from which the garment covers the background fully; below it, it blends.</summary>
    public const int OpaqueIntensity = 64;

    private const long RandomDomain = 0x6A2_3E47;
    private static readonly ConcurrentDictionary<(string, string), Lazy<(byte[][] Images, byte[] Labels, int Side)>> Loaded = new();

    /// <summary>The class names in label order.</summary>
    public static IReadOnlyList<string> ClassNames => FashionMnistFiles.ClassNames;

    /// <summary>Image <paramref name="index"/>: garment photograph <paramref name="index"/> of the split on its own background.</summary>
    public static SceneSample Image(GarmentSceneOptions options, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        (byte[][] photographs, byte[] labels, int side) = Photographs(options);
        if ((uint)index >= (uint)Math.Min(options.Count, photographs.Length))
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The set has {Math.Min(options.Count, photographs.Length)} images.");
        int size = options.ImageSize;
        SplitMix64 random = SplitMix64.For((ulong)options.Seed, RandomDomain, index);
        float[] pixels = Background.SmoothField(size, size, ref random);
        Background.Grating(pixels, size, size, ref random);
        Background.Lines(pixels, size, size, ref random);
        int garment = options.GarmentSize.Low + random.NextInt(options.GarmentSize.High - options.GarmentSize.Low + 1);
        int left = random.NextInt(size - garment + 1), top = random.NextInt(size - garment + 1);
        (float R, float G, float B) colour = Colour.FromHsv(random.NextDouble(), random.NextDouble(0.4, 1), random.NextDouble(0.7, 1));
        var instance = new byte[size * size];
        int area = 0, x0 = size, y0 = size, x1 = -1, y1 = -1;
        for (int y = 0; y < garment; y++)
            for (int x = 0; x < garment; x++)
            {
                float intensity = Sample(photographs[index], side, (x + 0.5) * side / garment - 0.5, (y + 0.5) * side / garment - 0.5);
                float alpha = Math.Min(1f, intensity / OpaqueIntensity), shade = 0.35f + 0.65f * intensity / 255f;
                int o = 3 * ((top + y) * size + left + x);
                pixels[o] += alpha * (colour.R * shade - pixels[o]);
                pixels[o + 1] += alpha * (colour.G * shade - pixels[o + 1]);
                pixels[o + 2] += alpha * (colour.B * shade - pixels[o + 2]);
                if (alpha < 0.5f) continue;
                instance[(top + y) * size + left + x] = 1;
                area++;
                (x0, y0, x1, y1) = (Math.Min(x0, left + x), Math.Min(y0, top + y), Math.Max(x1, left + x), Math.Max(y1, top + y));
            }
        Background.Noise(pixels, ref random);
        int label = labels[index];
        var classMask = Array.ConvertAll(instance, v => (byte)(v * (label + 1)));
        var box = area == 0 ? (left, top, 0, 0) : (x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        return new SceneSample(index, size, size, RgbPixels.ToBytes(pixels), classMask, instance,
            [new SceneObject(label, ClassNames[label], box, area, area)]);
    }

    /// <summary>
    /// The images as a lazy IDataView with <see cref="SceneDataset.LoadTrainingDataView"/>'s columns: Image, Label
    /// (text, the class name) and Mask (H·W booleans, true on the garment).
    /// </summary>
    public static IDataView LoadDataView(MLContext context, GarmentSceneOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int count = Math.Min(options.Count, Photographs(options).Images.Length);
        RecordColumn<SceneSample>[] columns =
        [
            RecordColumn<SceneSample>.Scalar("Image", new ImageDataViewType(options.ImageSize, options.ImageSize), SceneDataset.ToImage),
            RecordColumn<SceneSample>.Scalar("Label", TextDataViewType.Instance, s => s.Label.AsMemory()),
            RecordColumn<SceneSample>.Vector("Mask", new VectorDataViewType(BooleanDataViewType.Instance, options.ImageSize * options.ImageSize), s => s.Mask),
        ];
        return new RecordDataView<int, SceneSample>(context, $"{nameof(GarmentScenes)} images", Enumerable.Range(0, count).ToArray(),
            columns, i => Image(options, i), i => $"garment image {i}", skipInvalid: false);
    }

    private static (byte[][] Images, byte[] Labels, int Side) Photographs(GarmentSceneOptions options) =>
        Loaded.GetOrAdd((Path.GetFullPath(options.Folder), options.Split),
            key => new Lazy<(byte[][], byte[], int)>(() => FashionMnistFiles.Read(key.Item1, key.Item2), LazyThreadSafetyMode.PublicationOnly)).Value;

    /// <summary>Bilinear sample of a grey picture at (x, y) in pixel-centre coordinates; outside it is 0 (no garment).</summary>
    private static float Sample(byte[] picture, int side, double x, double y)
    {
        int ix = (int)Math.Floor(x), iy = (int)Math.Floor(y);
        float fx = (float)(x - ix), fy = (float)(y - iy);
        float At(int px, int py) => px < 0 || py < 0 || px >= side || py >= side ? 0 : picture[py * side + px];
        return (1 - fy) * ((1 - fx) * At(ix, iy) + fx * At(ix + 1, iy)) + fy * ((1 - fx) * At(ix, iy + 1) + fx * At(ix + 1, iy + 1));
    }
}
