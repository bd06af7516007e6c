namespace Crate.Transforms.Segmentation;

/// <summary>How <see cref="MaskCut"/> finds the Fiedler vector of each normalized cut.</summary>
public enum FiedlerSolver
{
    /// <summary><see cref="Dense"/> up to <see cref="MaskCutOptions.IterativeAbove"/> patches, <see cref="Iterative"/> above.</summary>
    Auto,

    /// <summary>A full symmetric eigendecomposition of the normalized Laplacian in float64: O(N³), exact, the oracle.</summary>
    Dense,

    /// <summary>Lanczos with full reorthogonalisation on the normalized affinity, the known top eigenvector deflated.</summary>
    Iterative,
}
