using System.Diagnostics;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>The part of MaskCut after the network on CutLER's default input (480×480 at patch 8: a 60×60 grid),
/// with CRATE-T/S-sized features (D = 384).</summary>
[TestClass]
public sealed class MaskCutSpeedTests
{
    private const int Side = 60, Dim = 384;

    /// <summary>Noisy features with two planted objects: dim·noise² = 4, so within-object cosines spread around 0.2
    /// (B is a noisy block pattern, not a clean one).</summary>
    private static Tensor Features(ulong seed) =>
        new PlantedGrid(Side, Side, (r, c) => r is >= 12 and < 36 && c is >= 15 and < 40 ? 1 : r >= 42 && c is >= 30 and < 52 ? 2 : 0)
            .RandomCentreFeatures(Dim, 0.102, seed);

    [TestMethod]
    public void IterativeMaskCutOnA60By60GridTakesUnderASecond()
    {
        using var scope = NewDisposeScope();
        MaskCut.Segment(Features(100), Side, Side); // warm-up: first-call costs of libtorch and the JIT
        var seconds = new List<double>();
        for (ulong seed = 1; seed <= 3; seed++)
        {
            Tensor features = Features(seed);
            var clock = Stopwatch.StartNew();
            MaskCutResult result = MaskCut.Segment(features, Side, Side);
            seconds.Add(clock.Elapsed.TotalSeconds);
            Console.WriteLine($"image {seed}: {seconds[^1]:F3} s, {result.Solver}, {result.Cuts} cuts, objects of " +
                              string.Join(", ", result.Objects.Select(o => $"{o.Mask.Area} patches (score {o.Score:F3})")));
            Assert.AreEqual(FiedlerSolver.Iterative, result.Solver);
            Assert.IsGreaterThanOrEqualTo(2, result.Objects.Count);
        }
        double median = seconds.Order().ElementAt(1);
        Console.WriteLine($"median {median:F3} s per image ({get_num_threads()} torch threads)");
        Assert.IsLessThan(1.5, median);
    }

    [TestMethod]
    [TestCategory("Timing")]
    public void DenseEighAt3600ForComparison()
    {
        using var scope = NewDisposeScope();
        using var graph = AffinityGraph.FromFeatures(Features(1), 0.15);
        var clock = Stopwatch.StartNew();
        FiedlerPair iterative = LanczosFiedlerSolver.Solve(graph);
        double iterativeSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        FiedlerPair dense = DenseFiedlerSolver.Solve(graph);
        double denseSeconds = clock.Elapsed.TotalSeconds;

        double dot = 0, a = 0, b = 0;
        for (int i = 0; i < dense.Vector.Length; i++)
        {
            dot += dense.Vector[i] * iterative.Vector[i];
            a += dense.Vector[i] * dense.Vector[i];
            b += iterative.Vector[i] * iterative.Vector[i];
        }
        double cosine = Math.Abs(dot) / Math.Sqrt(a * b);
        Console.WriteLine($"N = {graph.Count}: Lanczos {iterativeSeconds:F3} s ({iterative.Iterations} steps, residual {iterative.Residual:E1}); " +
                          $"dense eigh {denseSeconds:F1} s; |Δλ₂| {Math.Abs(dense.Eigenvalue - iterative.Eigenvalue):E1}, 1 − |cos| {1 - cosine:E1}");
        Assert.AreEqual(dense.Eigenvalue, iterative.Eigenvalue, 1e-6);
        Assert.IsGreaterThan(1 - 1e-6, cosine);
    }
}
