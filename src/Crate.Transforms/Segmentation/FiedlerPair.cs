namespace Crate.Transforms.Segmentation;

/// <summary>The second-smallest eigenpair of (D − A)v = λDv: λ, and v = D^-½u for the unit eigenvector u of L_sym
/// (so vᵀDv = 1). Its sign is whatever the solver produced; <see cref="Bipartition"/> fixes it.</summary>
/// <param name="Eigenvalue">λ₂ of L_sym, in [0, 2].</param>
/// <param name="Vector">v, one entry per patch.</param>
/// <param name="Iterations">Lanczos steps taken; 0 for the dense solver.</param>
/// <param name="Residual">The Lanczos estimate of ‖Mu − (1 − λ)u‖; 0 for the dense solver.</param>
internal sealed record FiedlerPair(double Eigenvalue, double[] Vector, int Iterations, double Residual);
