using System.Text.Json;
using System.Text.Json.Serialization;

namespace Crate.Transforms.Network;

/// <summary>
/// Everything that fixes the shapes of a CRATE (or ViT) network. The named configurations follow the
/// reference code's table: CRATE-T/S/B/L.
/// </summary>
public sealed record CrateArchitecture
{
    /// <summary>Token dimension d.</summary>
    public required int EmbeddingDim { get; init; }

    /// <summary>Number of layers L.</summary>
    public required int Depth { get; init; }

    /// <summary>Number of subspaces (heads) K per layer.</summary>
    public required int Heads { get; init; }

    /// <summary>Subspace (head) dimension p.</summary>
    public required int HeadDim { get; init; }

    /// <summary>Side of the square patch P, in pixels.</summary>
    public required int PatchSize { get; init; }

    /// <summary>Image height the positional embedding was made for; other sizes interpolate it.</summary>
    public required int ImageHeight { get; init; }

    /// <summary>Image width the positional embedding was made for; other sizes interpolate it.</summary>
    public required int ImageWidth { get; init; }

    /// <summary>Number of classes C of the head.</summary>
    public required int ClassCount { get; init; }

    /// <summary>Image channels; 3 for RGB.</summary>
    public int Channels { get; init; } = 3;

    /// <summary>What the head reads: the [CLS] token (default) or the mean token.</summary>
    public TokenPooling Pooling { get; init; } = TokenPooling.Cls;

    /// <summary>The blocks each layer is made of; CRATE by default.</summary>
    public CrateVariant Variant { get; init; } = CrateVariant.Crate;

    /// <summary>ISTA step size η of eq. (7); the reference's constructor argument <c>ista</c>, 0.1.</summary>
    public double IstaStepSize { get; init; } = 0.1;

    /// <summary>ISTA sparsity regulariser λ of eq. (7); fixed to 0.1 in the reference.</summary>
    public double IstaLambda { get; init; } = 0.1;

    /// <summary>Hidden width of the ViT MLP as a multiple of d (variants ViT and CRATE-MLP).</summary>
    public int MlpRatio { get; init; } = 4;

    /// <summary>Patches per column of the native grid, h = H / P.</summary>
    [JsonIgnore] public int GridHeight => ImageHeight / PatchSize;

    /// <summary>Patches per row of the native grid, w = W / P.</summary>
    [JsonIgnore] public int GridWidth => ImageWidth / PatchSize;

    /// <summary>Patch count N = h·w of the native grid.</summary>
    [JsonIgnore] public int PatchCount => GridHeight * GridWidth;

    /// <summary>Length of a flattened patch, C·P·P.</summary>
    [JsonIgnore] public int PatchDim => Channels * PatchSize * PatchSize;

    /// <summary>Width K·p of the concatenated subspace projections.</summary>
    [JsonIgnore] public int InnerDim => Heads * HeadDim;

    /// <summary>CRATE-T: d 384, 12 layers, 6 heads of 64.</summary>
    public static CrateArchitecture Tiny(int classCount = 1000, int patchSize = 16, int imageSize = 224) =>
        Named(384, 12, 6, 64, classCount, patchSize, imageSize);

    /// <summary>CRATE-S: d 576, 12 layers, 12 heads of 48.</summary>
    public static CrateArchitecture Small(int classCount = 1000, int patchSize = 16, int imageSize = 224) =>
        Named(576, 12, 12, 48, classCount, patchSize, imageSize);

    /// <summary>CRATE-B: d 768, 12 layers, 12 heads of 64.</summary>
    public static CrateArchitecture Base(int classCount = 1000, int patchSize = 16, int imageSize = 224) =>
        Named(768, 12, 12, 64, classCount, patchSize, imageSize);

    /// <summary>CRATE-L: d 1024, 24 layers, 16 heads of 64.</summary>
    public static CrateArchitecture Large(int classCount = 1000, int patchSize = 16, int imageSize = 224) =>
        Named(1024, 24, 16, 64, classCount, patchSize, imageSize);

    /// <summary>A named configuration by its letter or name: T/Tiny, S/Small, B/Base, L/Large (case-insensitive).</summary>
    public static CrateArchitecture FromName(string name, int classCount = 1000, int patchSize = 16, int imageSize = 224) =>
        name.Trim().ToUpperInvariant() switch
        {
            "T" or "TINY" or "CRATE-T" => Tiny(classCount, patchSize, imageSize),
            "S" or "SMALL" or "CRATE-S" => Small(classCount, patchSize, imageSize),
            "B" or "BASE" or "CRATE-B" => Base(classCount, patchSize, imageSize),
            "L" or "LARGE" or "CRATE-L" => Large(classCount, patchSize, imageSize),
            _ => throw new ArgumentException($"Unknown CRATE configuration '{name}'; expected Tiny, Small, Base or Large.", nameof(name)),
        };

    private static CrateArchitecture Named(int d, int depth, int heads, int headDim, int classCount, int patchSize, int imageSize) =>
        new()
        {
            EmbeddingDim = d, Depth = depth, Heads = heads, HeadDim = headDim, PatchSize = patchSize,
            ImageHeight = imageSize, ImageWidth = imageSize, ClassCount = classCount,
        };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public void Validate()
    {
        Require(EmbeddingDim > 0, nameof(EmbeddingDim), "must be positive");
        Require(Depth > 0, nameof(Depth), "must be positive");
        Require(Heads > 0, nameof(Heads), "must be positive");
        Require(HeadDim > 0, nameof(HeadDim), "must be positive");
        Require(PatchSize > 0, nameof(PatchSize), "must be positive");
        Require(Channels > 0, nameof(Channels), "must be positive");
        Require(ClassCount > 0, nameof(ClassCount), "must be positive");
        Require(MlpRatio > 0, nameof(MlpRatio), "must be positive");
        Require(ImageHeight >= PatchSize && ImageHeight % PatchSize == 0, nameof(ImageHeight),
            $"{ImageHeight} must be a positive multiple of the patch size {PatchSize}");
        Require(ImageWidth >= PatchSize && ImageWidth % PatchSize == 0, nameof(ImageWidth),
            $"{ImageWidth} must be a positive multiple of the patch size {PatchSize}");
        Require(IstaStepSize > 0, nameof(IstaStepSize), "must be positive");
        Require(IstaLambda >= 0, nameof(IstaLambda), "must not be negative");
    }

    private static void Require(bool condition, string field, string problem)
    {
        if (!condition) throw new ArgumentException($"CrateArchitecture.{field} {problem}.", field);
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The architecture as JSON (enums by name), as stored in saved models.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    public static CrateArchitecture FromJson(string json) =>
        JsonSerializer.Deserialize<CrateArchitecture>(json, JsonOptions)
        ?? throw new JsonException("The architecture JSON is null.");
}
