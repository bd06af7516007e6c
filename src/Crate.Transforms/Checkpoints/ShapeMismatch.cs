namespace Crate.Transforms.Checkpoints;

/// <summary>A weight whose shape in the file differs from the shape the model expects.</summary>
/// <param name="Key">The parameter name (the model's name).</param>
/// <param name="Expected">The model's shape.</param>
/// <param name="Actual">The file's shape.</param>
public sealed record ShapeMismatch(string Key, IReadOnlyList<long> Expected, IReadOnlyList<long> Actual)
{
    /// <summary>A shape as PyTorch prints it, e.g. [48, 192].</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <inheritdoc />
    public override string ToString() => $"{Key}: model {Format(Expected)}, file {Format(Actual)}";
}
