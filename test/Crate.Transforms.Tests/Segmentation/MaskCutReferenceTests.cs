using System.Text.Json;
using Crate.Testing;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;
using static Crate.Transforms.Tests.Segmentation.PlantedGrid;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>
/// MaskCut against an independent implementation: Fixtures/make_maskcut_fixtures.py runs CutLER's steps with numpy,
/// scipy.linalg.eigh(D − A, D) and scipy.ndimage.label on planted features, on well-conditioned cases only (every
/// cosine clear of τ, a clear eigengap, no entry of v at its mean, the same answer for v and −v).
/// </summary>
[TestClass]
public sealed class MaskCutReferenceTests
{
    /// <summary>λ₂ by the dense solver: a float64 eigendecomposition of the same N×N (N ≤ 224) problem as scipy's,
    /// each off by a few hundred roundings of 1.1e-16 on eigenvalues of size ≤ 2.</summary>
    private static readonly Tolerance DenseEigenvalue = new(1e-12);

    /// <summary>λ₂ by Lanczos: its products with the 0/1 matrix B run in float32, each entry a sum of up to N ≤ 224
    /// rounded terms, so M is applied with a relative error up to N·u ≈ 1.3e-5; an eigenvalue of a symmetric matrix
    /// moves by at most the perturbation's norm.</summary>
    private static readonly Tolerance IterativeEigenvalue = new(1.5e-5);

    /// <summary>Scores 1 − Ncut/2 from the same 0/1-and-ε graph: float64 sums of up to N² ≈ 5·10⁴ terms.</summary>
    private static readonly Tolerance Score = new(1e-10);

    public static IEnumerable<object[]> Cases =>
        MaskCutFixtures.PlantedCases.SelectMany(name => new[] { new object[] { name, FiedlerSolver.Dense }, [name, FiedlerSolver.Iterative] });

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void PlantedFeaturesAreCutAsScipyCutsThem(string name, FiedlerSolver solver)
    {
        JsonElement testCase = MaskCutFixtures.Case(name);
        (int height, int width) = MaskCutFixtures.Grid(testCase);
        using var scope = NewDisposeScope();
        MaskCutResult result = MaskCut.Segment(MaskCutFixtures.Features(testCase), height, width,
            MaskCutFixtures.Options(testCase) with { Solver = solver });

        FixtureObject[] expected = MaskCutFixtures.Objects(testCase, height, width);
        Assert.HasCount(expected.Length, result.Objects, "objects kept");
        for (int k = 0; k < expected.Length; k++)
        {
            MaskCutObject actual = result.Objects[k];
            AssertSameMask(expected[k].Mask, actual.Mask, $"{name}, object {k}");
            Assert.AreEqual(expected[k].Box, actual.Box, $"{name}, box {k}");
            NumericAssert.AreClose(expected[k].Eigenvalue, actual.Eigenvalue,
                solver == FiedlerSolver.Dense ? DenseEigenvalue : IterativeEigenvalue, $"{name}, λ₂ of object {k}");
            NumericAssert.AreClose(expected[k].Score, actual.Score, Score, $"{name}, score of object {k}");
        }
        // The script runs all n cuts; ours stops at the first rejected one (its remark: the rest would repeat it).
        bool[] kept = MaskCutFixtures.CutsKept(testCase);
        int firstRejected = Array.IndexOf(kept, false);
        Assert.AreEqual(firstRejected < 0 ? kept.Length : firstRejected + 1, result.Cuts, $"{name}: cuts made");
        Assert.IsTrue(kept.Skip(Math.Max(firstRejected, 0)).All(k => !k) || firstRejected < 0,
            $"{name}: once a cut is rejected, the script rejects every later one too");
    }
}
