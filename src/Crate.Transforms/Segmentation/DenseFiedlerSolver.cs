using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>The oracle: a full float64 eigendecomposition of L_sym = I − D^-½AD^-½, which has the eigenvalues of
/// (D − A)v = λDv with v = D^-½u (spec, "MaskCut"). O(N³); used for small grids and to check the iterative solver.</summary>
internal static class DenseFiedlerSolver
{
    public static FiedlerPair Solve(AffinityGraph graph)
    {
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(graph.NormalizedLaplacian());
        // eigh sorts ascending; index 0 is the known eigenvalue 0 with eigenvector ∝ D^½·1.
        Tensor fiedler = graph.InverseSqrtDegrees * vectors[.., 1];
        return new FiedlerPair(values[1].item<double>(), fiedler.cpu().data<double>().ToArray(), 0, 0);
    }
}
