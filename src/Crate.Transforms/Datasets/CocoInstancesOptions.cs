namespace Crate.Transforms.Datasets;

/// <summary>Options of <see cref="DatasetCatalog.LoadCocoInstances(Microsoft.ML.DataOperationsCatalog, string, string, CocoInstancesOptions?)"/>.</summary>
public sealed record CocoInstancesOptions
{
    /// <summary>
    /// When an image's file is missing or cannot be decoded, or is not the size its record says, skip the image, count
    /// it and log it (through the MLContext's log) instead of throwing. Default false: a bad image is an error.
    /// </summary>
    public bool SkipInvalidRecords { get; init; }

    /// <summary>The most pixels (width·height) an image may have, by the annotation file (checked when it is loaded by
    /// path) and by its file's header (checked before it is decoded). Default <see cref="ReaderLimits.DefaultMaxPixels"/>
    /// (8192·8192).</summary>
    public long MaxPixels { get; init; } = ReaderLimits.DefaultMaxPixels;
}
