namespace Crate.Transforms.Segmentation;

/// <summary>What <see cref="MaskCut.Segment"/> found in one image.</summary>
/// <param name="GridHeight">Patch rows h.</param>
/// <param name="GridWidth">Patch columns w.</param>
/// <param name="Objects">The kept masks in the order they were cut (0 to n of them).</param>
/// <param name="Solver">The solver that ran (<see cref="FiedlerSolver.Dense"/> or <see cref="FiedlerSolver.Iterative"/>).</param>
/// <param name="Cuts">The normalized cuts solved, kept or rejected.</param>
public sealed record MaskCutResult(int GridHeight, int GridWidth, IReadOnlyList<MaskCutObject> Objects, FiedlerSolver Solver, int Cuts)
{
    /// <summary>The objects' masks at <paramref name="imageHeight"/>×<paramref name="imageWidth"/>, earlier masks
    /// subtracted from later ones; see <see cref="MaskUpsampler.Upsample"/>.</summary>
    public IReadOnlyList<UpsampledMask> Upsample(int imageHeight, int imageWidth) =>
        MaskUpsampler.Upsample(Objects.Select(o => o.Mask).ToList(), imageHeight, imageWidth);
}
