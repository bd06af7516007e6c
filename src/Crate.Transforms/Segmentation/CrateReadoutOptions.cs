using Crate.Transforms.MLNet;

namespace Crate.Transforms.Segmentation;

/// <summary>What every read-out transform shares: where the images come from and how they enter the network.</summary>
public abstract record CrateReadoutOptions
{
    /// <summary>The image column: an MLImage (from LoadImages) or a float vector shaped [3, H, W] in [0, 1] (values beyond
    /// <see cref="ImageColumn.RangeTolerance"/> outside it are an error: ExtractPixels needs <c>scaleImage: 1f / 255</c>). Default "Image".</summary>
    public string InputColumnName { get; init; } = "Image";

    /// <summary>Network input height; null for the model's training size. Segmentation often reads larger images
    /// than training used: the positional embedding is interpolated. Default null.</summary>
    public int? ImageHeight { get; init; }

    /// <summary>Network input width; null for the model's training size. Default null.</summary>
    public int? ImageWidth { get; init; }

    /// <summary>The patch size the caller expects the model to have; null to accept the model's. A mismatch is an error. Default null.</summary>
    public int? PatchSize { get; init; }

    /// <summary>Channel normalisation. Default ImageNet's mean and std (the reference's).</summary>
    public ImageNormalization Normalization { get; init; } = new();

    /// <summary>Images per network pass. Default 16.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Where the network runs. Default <see cref="ComputeDevice.Auto"/>. A network that lives elsewhere is copied
    /// there for this read-out; the network passed in is never moved.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The element type the network computes in. Default <see cref="ComputePrecision.Float32"/>. A network of
    /// another type is copied for this read-out; the network passed in is never cast.</summary>
    public ComputePrecision Precision { get; init; } = ComputePrecision.Float32;
}
