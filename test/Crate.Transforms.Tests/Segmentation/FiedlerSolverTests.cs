using Crate.Testing;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>The Lanczos Fiedler pair against the dense float64 eigendecomposition, and the dense one against the
/// generalised problem (D − A)v = λDv it stands for.</summary>
[TestClass]
public sealed class FiedlerSolverTests
{
    [TestMethod]
    [DataRow(4, 5, 1UL)]
    [DataRow(5, 9, 2UL)]
    [DataRow(8, 8, 3UL)]
    [DataRow(10, 10, 4UL)]
    [DataRow(12, 15, 5UL)]
    [DataRow(15, 20, 6UL)]
    [DataRow(15, 20, 7UL)]
    public void IterativeMatchesDense(int height, int width, ulong seed)
    {
        // Two planted rectangles in a background, noisy enough that B is far from block-diagonal (a spread spectrum).
        var grid = new PlantedGrid(height, width, (r, c) =>
            r >= height / 4 && r < height * 3 / 4 && c >= width / 5 && c < width / 2 ? 1 : r >= height / 2 && c >= width * 3 / 5 ? 2 : 0);
        using var scope = NewDisposeScope();
        using var graph = AffinityGraph.FromFeatures(grid.RandomCentreFeatures(16, 0.5, seed), 0.15);

        Tensor spectrum = linalg.eigvalsh(graph.NormalizedLaplacian());
        double gap = (spectrum[2] - spectrum[1]).item<double>();
        NumericAssert.IsAbove(1e-3, gap, "premise: λ₂ is simple");

        FiedlerPair dense = DenseFiedlerSolver.Solve(graph);
        FiedlerPair iterative = LanczosFiedlerSolver.Solve(graph);
        Console.WriteLine($"N {grid.Count}: λ₂ {dense.Eigenvalue:F6}, gap {gap:F4}, {iterative.Iterations} steps, residual {iterative.Residual:E1}, " +
                          $"|Δλ| {Math.Abs(dense.Eigenvalue - iterative.Eigenvalue):E1}, 1 − |cos| {1 - Math.Abs(Cosine(dense.Vector, iterative.Vector)):E1}");

        Assert.IsTrue(iterative.Residual <= LanczosFiedlerSolver.Tolerance || iterative.Iterations == grid.Count - 1, "converged");
        // Lanczos applies M = D^-½AD^-½ through float32 products with B: each entry of M·x is a float32 sum of up to N
        // terms, so M is applied with an error of norm ≲ (N + 1)·u (M's rows sum to about 1). A symmetric perturbation E
        // moves an eigenvalue by at most ‖E‖ and turns its eigenvector by sin θ ≤ ‖E‖/gap (Davis–Kahan).
        double perturbation = (grid.Count + 1) * Tolerance.Float32Roundoff;
        NumericAssert.AreClose(dense.Eigenvalue, iterative.Eigenvalue, new Tolerance(perturbation + LanczosFiedlerSolver.Tolerance), "λ₂");
        NumericAssert.IsAbove(1 - Math.Pow(perturbation / gap, 2), Math.Abs(Cosine(dense.Vector, iterative.Vector)),
            "Fiedler vectors agree up to sign");
    }

    [TestMethod]
    public void DensePairSolvesTheGeneralisedProblem()
    {
        var grid = new PlantedGrid(6, 7, (r, c) => r >= 2 && c >= 3 ? 1 : 0);
        using var scope = NewDisposeScope();
        using var graph = AffinityGraph.FromFeatures(grid.RandomCentreFeatures(16, 0.5, 11), 0.15);
        FiedlerPair pair = DenseFiedlerSolver.Solve(graph);

        // Build A and D by their definitions, independently of the graph's B-based products.
        Tensor unit = nn.functional.normalize(grid.RandomCentreFeatures(16, 0.5, 11).to_type(ScalarType.Float64), dim: 1);
        Tensor affinity = where(unit.matmul(unit.t()) > 0.15, 1.0, AffinityGraph.Epsilon);
        Tensor degree = diag(affinity.sum(1));
        Tensor v = tensor(pair.Vector);
        double residual = ((degree - affinity).mv(v) - degree.mv(v) * pair.Eigenvalue).abs().max().item<double>();
        // A float64 eigendecomposition of a 42×42 problem with entries and degrees ≤ 42: residuals of a few thousand
        // times 1.1e-16.
        NumericAssert.IsBelow(1e-10, residual, "(D − A)v = λDv");
        NumericAssert.AreClose(1, v.dot(degree.mv(v)).item<double>(), new Tolerance(1e-10), "vᵀDv = 1");
        NumericAssert.AreClose(0, v.dot(degree.diagonal()).item<double>(), new Tolerance(1e-10), "v ⊥_D 1");
    }

    private static double Cosine(double[] a, double[] b)
    {
        double dot = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }
        return dot / Math.Sqrt(aa * bb);
    }
}
