using System.Diagnostics;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

/// <summary>
/// MaskCut after the network at CutLER's input size (480×480 at patch 8: a 60×60 grid of 3,600 patches) with
/// CRATE-T/S-wide features (384), two planted objects in a background: the iterative (Lanczos) solver that Auto picks
/// there, against the dense generalized eigensolver on the same features. The unit tests check what the cuts find
/// (MaskCutTests, MaskCutReferenceTests); this measures how long they take.
/// </summary>
internal static class MaskCutBenchmark
{
    private const int Side = 60, Dim = 384;

    public static void Run(double matmulSeconds, bool quick)
    {
        using var noGrad = no_grad();
        MaskCut.Segment(Features(100), Side, Side); // warm-up: first-call costs of libtorch and the JIT
        var seconds = new List<double>();
        Console.WriteLine("| features | solver | cuts | objects (patches) | seconds per image | in baseline matrix products |");
        Console.WriteLine("|---|---|---|---|---|---|");
        for (ulong seed = 1; seed <= 3; seed++)
            seconds.Add(Time(seed, FiedlerSolver.Auto, matmulSeconds));
        double median = seconds.Order().ElementAt(1);
        if (!quick) Time(1, FiedlerSolver.Dense, matmulSeconds);
        Console.WriteLine();
        Console.WriteLine($"Median with Auto (Lanczos): {median:F3} s per image, {get_num_threads()} torch threads.");
    }

    private static double Time(ulong seed, FiedlerSolver solver, double matmulSeconds)
    {
        using var scope = NewDisposeScope();
        Tensor features = Features(seed);
        var clock = Stopwatch.StartNew();
        MaskCutResult result = MaskCut.Segment(features, Side, Side, new MaskCutOptions { Solver = solver });
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"| seed {seed} | {result.Solver} | {result.Cuts} | {string.Join(", ", result.Objects.Select(o => o.Mask.Area))} | " +
                          $"{seconds:F3} | {seconds / matmulSeconds:F1} |");
        return seconds;
    }

    /// <summary>The tests' planted-grid recipe (PlantedGrid.RandomCentreFeatures): each label a random unit centre plus
    /// N(0, 0.102²) per dimension, so dim·noise² = 4 and within-object cosines spread around 0.2.</summary>
    private static Tensor Features(ulong seed)
    {
        using var generator = new Generator(seed);
        long[] labels = Enumerable.Range(0, Side * Side)
            .Select(i => (r: i / Side, c: i % Side))
            .Select(p => p.r is >= 12 and < 36 && p.c is >= 15 and < 40 ? 1L : p.r >= 42 && p.c is >= 30 and < 52 ? 2L : 0L).ToArray();
        Tensor centres = nn.functional.normalize(randn(3, Dim, generator: generator), dim: 1);
        return centres.index_select(0, tensor(labels)) + randn(Side * Side, Dim, generator: generator) * 0.102;
    }
}
