using Crate.Testing;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;
using static Crate.Transforms.Tests.Segmentation.PlantedGrid;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>MaskCut on grids with planted clusters, where the right masks are known by construction.</summary>
[TestClass]
public sealed class MaskCutTests
{
    private static MaskCutResult Run(PlantedGrid grid, FiedlerSolver solver, int objects = 3, MaskCutOptions? options = null)
    {
        using var scope = NewDisposeScope();
        options = (options ?? new MaskCutOptions()) with { Solver = solver, MaxObjects = objects };
        return MaskCut.Segment(grid.OneHotFeatures(), grid.Height, grid.Width, options);
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void FirstMaskIsThePlantedBlock(FiedlerSolver solver)
    {
        var grid = new PlantedGrid(16, 16, (r, c) => r is >= 5 and <= 9 && c is >= 6 and <= 11 ? 1 : 0);
        MaskCutResult result = Run(grid, solver);

        Assert.AreEqual(solver, result.Solver);
        AssertSameMask(grid.Mask(1), result.Objects[0].Mask, "first mask");
        Assert.AreEqual(new MaskBox(6, 5, 6, 5), result.Objects[0].Box);
        // No above-τ affinity crosses the cut: Ncut is ~ε·N, λ₂ below it.
        NumericAssert.IsAbove(0.999, result.Objects[0].Score, "score of a clean cut");
        NumericAssert.IsBelow(1e-3, result.Objects[0].Eigenvalue, "λ₂ of a clean cut");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void CornerRuleTurnsAwayFromAFrameHoldingTheSeed(FiedlerSolver solver)
    {
        // The border ring (44 patches, all 4 corners) has the smaller volume, hence the larger |v| and the seed; the
        // seed rule alone would return the frame, the corner rule returns the 10×10 interior.
        var grid = new PlantedGrid(12, 12, (r, c) => r is 0 or 11 || c is 0 or 11 ? 1 : 0);
        AssertSeedIn(grid, grid.Mask(1));
        AssertSameMask(grid.Mask(0), Run(grid, solver).Objects[0].Mask, "first mask");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void CornerRuleAppliesAtExactlyThreeCorners(FiedlerSolver solver)
    {
        // Top row plus left column: 23 patches on 3 corners, holding the seed.
        var grid = new PlantedGrid(12, 12, (r, c) => r == 0 || c == 0 ? 1 : 0);
        AssertSeedIn(grid, grid.Mask(1));
        AssertSameMask(grid.Mask(0), Run(grid, solver).Objects[0].Mask, "first mask");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense, true)]
    [DataRow(FiedlerSolver.Dense, false)]
    [DataRow(FiedlerSolver.Iterative, true)]
    [DataRow(FiedlerSolver.Iterative, false)]
    public void SeedRuleKeepsTheSeedsSideWhenCornersSplitTwoTwo(FiedlerSolver solver, bool stripOnLeft)
    {
        // A 4-column strip against the other 8 columns: two corners each, so the seed (on the strip, the smaller
        // volume) decides.
        var grid = new PlantedGrid(12, 12, (r, c) => (stripOnLeft ? c < 4 : c >= 8) ? 1 : 0);
        AssertSeedIn(grid, grid.Mask(1));
        AssertSameMask(grid.Mask(1), Run(grid, solver).Objects[0].Mask, "first mask");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void OnlyTheSeedsConnectedComponentIsKept(FiedlerSolver solver)
    {
        // Two blobs of one cluster, touching only diagonally (not 4-connected). The cut puts both on one side.
        var grid = new PlantedGrid(16, 16, (r, c) => (r is >= 3 and <= 6 && c is >= 3 and <= 6) || (r is >= 7 and <= 10 && c is >= 7 and <= 11) ? 1 : 0);
        BinaryMask first = grid.Where((r, c) => r is >= 3 and <= 6 && c is >= 3 and <= 6);
        BinaryMask second = grid.Where((r, c) => r is >= 7 and <= 10 && c is >= 7 and <= 11);
        MaskCutResult result = Run(grid, solver, objects: 2);

        Assert.HasCount(2, result.Objects);
        bool firstTaken = result.Objects[0].Mask.Cells.SequenceEqual(first.Cells);
        AssertSameMask(firstTaken ? first : second, result.Objects[0].Mask, "first mask: one blob only");
        // With the first blob zeroed out, the second blob is an object of its own.
        AssertSameMask(firstTaken ? second : first, result.Objects[1].Mask, "second mask");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void SpeckFoundBySecondCutIsRejectedByArea(FiedlerSolver solver)
    {
        // A 4×4 object and a one-patch third cluster (1/256 of the grid ≤ 1%), apart from each other.
        var grid = new PlantedGrid(16, 16, (r, c) => r is >= 6 and <= 9 && c is >= 6 and <= 9 ? 1 : (r, c) == (2, 12) ? 2 : 0);
        MaskCutResult result = Run(grid, solver);

        Assert.HasCount(1, result.Objects);
        AssertSameMask(grid.Mask(1), result.Objects[0].Mask, "object");
        Assert.AreEqual(2, result.Cuts, "the loop ends at the first rejection");

        MaskCutResult unfiltered = Run(grid, solver, options: new MaskCutOptions { MinAreaFraction = 0 });
        AssertSameMask(grid.Mask(2), unfiltered.Objects[1].Mask, "the rejected second cut was the speck");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void RepeatOfTheZeroedObjectIsRejectedByOverlap(FiedlerSolver solver)
    {
        // One object: once its features are zero, the cheapest cut separates those zeroed patches from the background
        // again, so the second mask repeats the first (IoU 1).
        var grid = new PlantedGrid(16, 16, (r, c) => r is >= 4 and <= 8 && c is >= 5 and <= 10 ? 1 : 0);
        MaskCutResult result = Run(grid, solver);
        Assert.HasCount(1, result.Objects);
        Assert.AreEqual(2, result.Cuts);

        MaskCutResult unfiltered = Run(grid, solver, objects: 2, new MaskCutOptions { MaxOverlap = 1 });
        AssertSameMask(grid.Mask(1), unfiltered.Objects[1].Mask, "the rejected second cut repeated the object");
        NumericAssert.IsBelow(unfiltered.Objects[0].Score, unfiltered.Objects[1].Score, "a cut through zeroed patches is not clean");
    }

    [TestMethod]
    public void SolversAgreeOnNoisyPlantedObjects()
    {
        var grid = new PlantedGrid(24, 24, (r, c) => r is >= 3 and <= 10 && c is >= 4 and <= 12 ? 1 : r is >= 14 and <= 20 && c is >= 12 and <= 19 ? 2 : 0);
        using var scope = NewDisposeScope();
        Tensor features = grid.RandomCentreFeatures(64, 0.25, seed: 7);
        MaskCutResult dense = MaskCut.Segment(features, 24, 24, new MaskCutOptions { Solver = FiedlerSolver.Dense });
        MaskCutResult iterative = MaskCut.Segment(features, 24, 24, new MaskCutOptions { Solver = FiedlerSolver.Iterative });

        Assert.HasCount(3, dense.Objects);
        Assert.HasCount(3, iterative.Objects);
        for (int k = 0; k < 3; k++)
        {
            AssertSameMask(dense.Objects[k].Mask, iterative.Objects[k].Mask, $"mask {k}");
            // Lanczos applies M through float32 sums of up to N = 576 terms: an eigenvalue moves by ≲ (N + 1)·u.
            NumericAssert.AreClose(dense.Objects[k].Eigenvalue, iterative.Objects[k].Eigenvalue, new Tolerance(577 * Tolerance.Float32Roundoff),
                $"λ₂ of cut {k}");
            // The same mask on the same graph: float64 sums of up to N² terms.
            NumericAssert.AreClose(dense.Objects[k].Score, iterative.Objects[k].Score, new Tolerance(1e-10), $"score {k}");
        }
        // The noisy objects come out nearly exactly (a stray patch may join or leave).
        NumericAssert.IsAbove(0.9, dense.Objects[0].Mask.IntersectionOverUnion(grid.Mask(1)), "first object against the planted one");
        NumericAssert.IsAbove(0.9, dense.Objects[1].Mask.IntersectionOverUnion(grid.Mask(2)), "second object against the planted one");
        // The third cut separates the zeroed patches of both objects from the background; its seed (ties to the lowest
        // index) lies in the first object's, which the IoU check against the previous (second) mask does not catch.
        // Subtracting earlier masks, as CutLER does, removes the repeat.
        AssertSameMask(dense.Objects[0].Mask, dense.Objects[2].Mask, "third mask repeats the first");
        NumericAssert.IsBelow(dense.Objects[1].Score, dense.Objects[2].Score, "the repeat's cut is less clean");
        CollectionAssert.AreEqual(new[] { 0, 1 }, dense.Upsample(24, 24).Select(m => m.Source).ToArray());
    }

    [TestMethod]
    public void CutLersInputSizeFindsBothPlantedObjectsWithTheIterativeSolver()
    {
        // CutLER's 480×480 input at patch 8 is a 60×60 grid; features as wide as CRATE-T/S (384), noisy enough
        // (dim·noise² = 4) that within-object cosines spread around 0.2: B is a noisy block pattern. (Its speed is
        // measured by the benchmarks, not here.)
        var grid = new PlantedGrid(60, 60, (r, c) => r is >= 12 and < 36 && c is >= 15 and < 40 ? 1 : r >= 42 && c is >= 30 and < 52 ? 2 : 0);
        using var scope = NewDisposeScope();
        MaskCutResult result = MaskCut.Segment(grid.RandomCentreFeatures(384, 0.102, seed: 1), 60, 60);
        Assert.AreEqual(FiedlerSolver.Iterative, result.Solver, "Auto picks Lanczos above 400 patches");
        Assert.IsGreaterThanOrEqualTo(2, result.Objects.Count);
        double[] best = new[] { 1, 2 }.Select(label => result.Objects.Max(o => o.Mask.IntersectionOverUnion(grid.Mask(label)))).ToArray();
        NumericAssert.IsAbove(0.9, best[0], "the first planted object is found");
        NumericAssert.IsAbove(0.9, best[1], "the second planted object is found");
    }

    [TestMethod]
    [DataRow(FiedlerSolver.Dense)]
    [DataRow(FiedlerSolver.Iterative)]
    public void ZeroFeaturesHaveNothingToCut(FiedlerSolver solver)
    {
        using var scope = NewDisposeScope();
        MaskCutResult result = MaskCut.Segment(zeros(30, 8), 5, 6, new MaskCutOptions { Solver = solver });
        Assert.IsEmpty(result.Objects);
        Assert.AreEqual(0, result.Cuts);
    }

    [TestMethod]
    public void AutoPicksTheIterativeSolverAboveTheThreshold()
    {
        var options = new MaskCutOptions();
        Assert.AreEqual(FiedlerSolver.Dense, options.SolverFor(400));
        Assert.AreEqual(FiedlerSolver.Iterative, options.SolverFor(401));
        Assert.AreEqual(FiedlerSolver.Dense, (options with { Solver = FiedlerSolver.Dense }).SolverFor(10_000));
    }

    [TestMethod]
    public void RejectsMalformedInput()
    {
        using var scope = NewDisposeScope();
        Assert.ThrowsExactly<ArgumentException>(() => MaskCut.Segment(zeros(10, 4), 3, 4));
        Assert.ThrowsExactly<ArgumentException>(() => MaskCut.Segment(zeros(12, 4, ScalarType.Int32), 3, 4));
        Assert.ThrowsExactly<ArgumentException>(() => MaskCut.Segment(zeros(1, 4), 1, 1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MaskCut.Segment(zeros(12, 4), 3, 4, new MaskCutOptions { AffinityThreshold = -0.1 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => MaskCut.Segment(zeros(12, 4), 3, 4, new MaskCutOptions { MaxObjects = 0 }));
    }

    /// <summary>Checks the premise of a rule test: argmax|v| of the first cut lies in <paramref name="region"/>.</summary>
    private static void AssertSeedIn(PlantedGrid grid, BinaryMask region)
    {
        using var scope = NewDisposeScope();
        using var graph = AffinityGraph.FromFeatures(grid.OneHotFeatures(), 0.15);
        double[] v = DenseFiedlerSolver.Solve(graph).Vector;
        int seed = Array.IndexOf(v, v.MaxBy(Math.Abs));
        Assert.IsTrue(region.Cells[seed], $"premise: the seed {seed} lies in the region");
    }
}
