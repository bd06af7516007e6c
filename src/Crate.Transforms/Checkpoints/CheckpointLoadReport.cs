namespace Crate.Transforms.Checkpoints;

/// <summary>
/// What loading weights into a model did. Names are the model's parameter names (the importer's messages add
/// the reference names). After a strict load only <see cref="Loaded"/> and <see cref="Skipped"/> can be non-empty.
/// </summary>
public sealed record CheckpointLoadReport
{
    /// <summary>Parameters set from the file.</summary>
    public required IReadOnlyList<string> Loaded { get; init; }

    /// <summary>Parameters the file does not provide; they keep their fresh initialisation.</summary>
    public required IReadOnlyList<string> MissingKeys { get; init; }

    /// <summary>File entries the model has no parameter for; ignored.</summary>
    public required IReadOnlyList<string> UnexpectedKeys { get; init; }

    /// <summary>Entries present on both sides with different shapes; the parameter keeps its fresh initialisation.</summary>
    public required IReadOnlyList<ShapeMismatch> ShapeMismatches { get; init; }

    /// <summary>Parameters and file entries deliberately left alone (a dropped head).</summary>
    public required IReadOnlyList<string> Skipped { get; init; }

    /// <summary>True when every parameter was loaded or deliberately skipped and every file entry was used or skipped.</summary>
    public bool IsComplete => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && ShapeMismatches.Count == 0;
}
