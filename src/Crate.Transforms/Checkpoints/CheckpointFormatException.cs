namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A checkpoint or model file that cannot be read: not an archive of the expected kind, truncated or corrupt,
/// or holding something this library refuses to interpret (an unsupported pickle opcode, a global outside the
/// allow-list, an unsupported tensor type, inconsistent offsets). The message names the file and the culprit.
/// It is an <see cref="IOException"/> (<see cref="InvalidDataException"/>, the closer fit, is sealed), so one
/// handler catches it with a missing file (<see cref="FileNotFoundException"/>).
/// </summary>
public sealed class CheckpointFormatException : IOException
{
    /// <summary>Creates the exception with a message naming the file and what is wrong with it.</summary>
    public CheckpointFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with the lower-level error that revealed the problem.</summary>
    public CheckpointFormatException(string message, Exception innerException) : base(message, innerException) { }
}
