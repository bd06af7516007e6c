namespace Crate.Transforms.Evaluation;

/// <summary>
/// COCO data that cannot be used as it is: a JSON file that is not in COCO's annotation or results format (missing
/// keys, wrong types), a segmentation that is neither polygons nor RLE, RLE counts that do not add up to the image
/// size, a mask of the wrong size, a detection for an image or category the ground truth does not have, an empty
/// result set. The message names the file (when there is one), the record and the problem. It is an
/// <see cref="IOException"/>, so one handler catches it with a missing file (<see cref="FileNotFoundException"/>).
/// </summary>
public sealed class CocoFormatException : IOException
{
    /// <summary>Creates the exception; the message is "file: record: problem".</summary>
    /// <param name="filePath">The file, or null for data given in memory.</param>
    /// <param name="record">The record, e.g. "annotations[12] (id 907)", or null for the file as a whole.</param>
    /// <param name="problem">What is wrong.</param>
    public CocoFormatException(string? filePath, string? record, string problem)
        : base(string.Join(": ", new[] { filePath, record, problem }.Where(part => part is not null)))
    {
        FilePath = filePath;
        Record = record;
    }

    /// <summary>Creates the exception with the lower-level error that revealed the problem.</summary>
    public CocoFormatException(string? filePath, string? record, string problem, Exception innerException)
        : base(string.Join(": ", new[] { filePath, record, problem }.Where(part => part is not null)), innerException)
    {
        FilePath = filePath;
        Record = record;
    }

    /// <summary>The file, or null for data given in memory.</summary>
    public string? FilePath { get; }

    /// <summary>The record, or null when the problem concerns the file as a whole.</summary>
    public string? Record { get; }
}
