namespace Crate.Transforms.Datasets;

/// <summary>Settings of the COCO instances reader.</summary>
public sealed record CocoInstancesOptions
{
    /// <summary>
    /// Leave out images whose file is missing instead of failing; each is counted in
    /// <see cref="CocoInstancesDataView.SkippedImages"/> and reported to <see cref="Log"/>. Default false: a missing
    /// file is an error that names it.
    /// </summary>
    public bool SkipMissingImages { get; init; }

    /// <summary>Receives one line per skipped image. Default null.</summary>
    public Action<string>? Log { get; init; }
}
