using System.Text;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A readable file whose weights do not fit the model: parameters the file lacks, entries the model has no
/// place for, and entries of the wrong shape, all reported at once. Nothing was loaded when this is thrown.
/// </summary>
public sealed class CheckpointMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception; <paramref name="displayName"/> may expand a model name for the message
    /// (the importer adds the checkpoint's own name), and <paramref name="detail"/> is appended to it.</summary>
    public CheckpointMismatchException(
        string filePath,
        IReadOnlyList<string> missingKeys,
        IReadOnlyList<string> unexpectedKeys,
        IReadOnlyList<ShapeMismatch> shapeMismatches,
        Func<string, string>? displayName = null,
        string? detail = null)
        : base(BuildMessage(filePath, missingKeys, unexpectedKeys, shapeMismatches, displayName ?? (name => name), detail))
    {
        FilePath = filePath;
        MissingKeys = missingKeys;
        UnexpectedKeys = unexpectedKeys;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>The file the weights came from.</summary>
    public string FilePath { get; }

    /// <summary>Model parameters the file does not provide.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>File entries the model has no parameter for.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Entries present on both sides with different shapes.</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    private static string BuildMessage(
        string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> mismatches, Func<string, string> displayName, string? detail)
    {
        var message = new StringBuilder($"The weights in '{source}' do not fit the model.");
        if (missing.Count > 0)
            message.Append($" {missing.Count} missing key(s): {KeyList.Format(missing.Select(displayName))}.");
        if (unexpected.Count > 0)
            message.Append($" {unexpected.Count} unexpected key(s): {KeyList.Format(unexpected.Select(displayName))}.");
        if (mismatches.Count > 0)
            message.Append($" {mismatches.Count} shape mismatch(es): " +
                KeyList.Format(mismatches.Select(m => m with { Key = displayName(m.Key) }).Select(m => m.ToString())) + ".");
        if (detail is not null)
            message.Append(' ').Append(detail);
        return message.ToString();
    }
}
