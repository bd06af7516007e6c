namespace Crate.Transforms.Segmentation;

/// <summary>Settings of <see cref="MaskCut"/>. Defaults are the paper's (Appendix B.4: n = 3, τ = 0.15) and CutLER's
/// filters (spec, "MaskCut (CutLER), as used in the paper").</summary>
public sealed record MaskCutOptions
{
    /// <summary>n: how many normalized cuts to make, so the most objects returned. Default 3.</summary>
    public int MaxObjects { get; init; } = 3;

    /// <summary>τ: patches whose L2-normalised features have a cosine similarity above this are joined with affinity 1,
    /// all other pairs get 1e-5. Must lie in [0, 1): a taken patch's zeroed feature then has cosine 0 ≤ τ with
    /// everything, as in CutLER. Default 0.15.</summary>
    public double AffinityThreshold { get; init; } = 0.15;

    /// <summary>From the second cut on, a mask whose IoU with the previous kept mask exceeds this is rejected. Default 0.5.</summary>
    public double MaxOverlap { get; init; } = 0.5;

    /// <summary>From the second cut on, a mask covering at most this fraction of the grid is rejected. Default 0.01.</summary>
    public double MinAreaFraction { get; init; } = 0.01;

    /// <summary>The eigensolver. Default <see cref="FiedlerSolver.Auto"/>.</summary>
    public FiedlerSolver Solver { get; init; } = FiedlerSolver.Auto;

    /// <summary>Grids with more patches than this use the iterative solver under <see cref="FiedlerSolver.Auto"/>.
    /// Default 400 (20×20): up to there the dense float64 eigendecomposition, exact whatever the spectrum, costs about
    /// 20 ms (measured on 2 shared cores; Lanczos, 2 ms there, is ~50× faster by N = 900).</summary>
    public int IterativeAbove { get; init; } = 400;

    /// <summary>The solver used for a grid of <paramref name="patches"/> patches.</summary>
    public FiedlerSolver SolverFor(int patches) => Solver switch
    {
        FiedlerSolver.Auto => patches > IterativeAbove ? FiedlerSolver.Iterative : FiedlerSolver.Dense,
        _ => Solver,
    };

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxObjects);
        if (!(AffinityThreshold >= 0 && AffinityThreshold < 1))
            throw new ArgumentOutOfRangeException(nameof(AffinityThreshold), AffinityThreshold, "τ must lie in [0, 1).");
        if (!(MaxOverlap >= 0 && MaxOverlap <= 1))
            throw new ArgumentOutOfRangeException(nameof(MaxOverlap), MaxOverlap, "The IoU limit must lie in [0, 1].");
        if (!(MinAreaFraction >= 0 && MinAreaFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(MinAreaFraction), MinAreaFraction, "The area fraction must lie in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegative(IterativeAbove);
        if (!Enum.IsDefined(Solver))
            throw new ArgumentOutOfRangeException(nameof(Solver), Solver, "Unknown solver.");
    }
}
