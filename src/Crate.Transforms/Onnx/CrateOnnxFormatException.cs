namespace Crate.Transforms.Onnx;

/// <summary>
/// A file that <see cref="CrateOnnxModelInfo.Read(string)"/> cannot take for a Crate.MLNet ONNX export: not an ONNX
/// model at all, truncated, an ONNX model made by something else (no Crate.MLNet metadata), written by a newer
/// Crate.MLNet, or with unreadable metadata. The message names the file and the problem. It is an
/// <see cref="IOException"/>, as <see cref="Checkpoints.CheckpointFormatException"/> is, so one handler catches it
/// with a missing file.
/// </summary>
public sealed class CrateOnnxFormatException : IOException
{
    /// <summary>Creates the exception with a message naming the file and what is wrong with it.</summary>
    public CrateOnnxFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with the lower-level error that revealed the problem.</summary>
    public CrateOnnxFormatException(string message, Exception innerException) : base(message, innerException) { }
}
