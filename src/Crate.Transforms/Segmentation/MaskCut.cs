using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// MaskCut (Wang et al., CutLER) as the CRATE paper uses it (Appendix B.4, Algorithm 4; spec, "MaskCut (CutLER), as
/// used in the paper"): repeated normalized cuts of the thresholded cosine-affinity graph of one image's patch
/// features, each cut's object zeroed out of the features before the next. The algorithm core only: features in,
/// grid masks out; the network read-out and image handling live elsewhere.
/// </summary>
public static class MaskCut
{
    /// <summary>
    /// Segments one image. Makes up to <see cref="MaskCutOptions.MaxObjects"/> cuts; each one solves
    /// (D − A)v = λDv for the Fiedler vector, splits it (<see cref="Bipartition"/>), keeps the 4-connected component
    /// of the seed, and sets the features of that component's patches to 0 for the next cut.
    /// </summary>
    /// <remarks>
    /// From the second cut on, a mask whose IoU with the previous kept mask exceeds
    /// <see cref="MaskCutOptions.MaxOverlap"/>, or whose area is at most <see cref="MaskCutOptions.MinAreaFraction"/>
    /// of the grid, is rejected: it counts towards n, is not returned, and zeroes nothing (it was not taken). The
    /// features are then unchanged, so every remaining cut would repeat it and be rejected against the same kept mask;
    /// the loop therefore ends at the first rejection, which returns what running all n cuts would. (Our
    /// understanding of CutLER is that it instead resets its "previous" mask to empty after a rejection, and so may
    /// accept the repeated cut one round later; its subtraction of earlier masks then leaves little or nothing of
    /// it. We do not reproduce that.) The loop also ends when no above-τ affinity is left (every patch taken, or all
    /// features zero).
    /// </remarks>
    /// <param name="features">Patch features [N, D], N = h·w in row-major grid order, the cls token already dropped
    /// (for CRATE, the last layer's head projections U_k*z). Any device; half precision is computed in float32.</param>
    /// <param name="gridHeight">Patch rows h.</param>
    /// <param name="gridWidth">Patch columns w.</param>
    /// <param name="options">Settings; null for the paper's.</param>
    public static MaskCutResult Segment(Tensor features, int gridHeight, int gridWidth, MaskCutOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        options ??= new MaskCutOptions();
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gridHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gridWidth);
        int patches = gridHeight * gridWidth;
        if (patches < 2)
            throw new ArgumentException("A normalized cut needs at least two patches.", nameof(gridHeight));
        if (features.dim() != 2 || features.shape[0] != patches || !features.is_floating_point())
            throw new ArgumentException(
                $"Expected floating-point features [{patches}, D] for a {gridHeight}×{gridWidth} grid, got {features.dtype} [{string.Join(", ", features.shape)}].",
                nameof(features));

        FiedlerSolver solver = options.SolverFor(patches);
        using var graph = AffinityGraph.FromFeatures(features, options.AffinityThreshold);
        var objects = new List<MaskCutObject>();
        int cuts = 0;
        while (cuts < options.MaxObjects)
        {
            bool[] isolated = graph.IsolatedPatches();
            // Every affinity ε (all patches taken, or no features): A ∝ 11ᵀ, λ₂ has multiplicity N − 1, nothing to cut.
            if (isolated.All(i => i)) break;
            FiedlerPair fiedler = solver == FiedlerSolver.Dense ? DenseFiedlerSolver.Solve(graph) : LanczosFiedlerSolver.Solve(graph);
            cuts++;
            TieIsolatedPatches(fiedler.Vector, isolated);
            (bool[] side, int seed) = Bipartition.Split(fiedler.Vector, gridHeight, gridWidth);
            BinaryMask mask = ConnectedComponent.Containing(side, gridHeight, gridWidth, seed);
            if (objects.Count > 0 && MaskCutFilter.Rejects(mask, objects[^1].Mask, options)) break;

            double score = 1 - graph.NormalizedCut(mask) / 2;
            objects.Add(new MaskCutObject(mask, mask.BoundingBox()!.Value, score, fiedler.Eigenvalue));
            graph.ZeroFeatures(mask);
        }
        return new MaskCutResult(gridHeight, gridWidth, objects, solver, cuts);
    }

    /// <summary>
    /// Patches whose rows of A are identical have identical entries in v: for an isolated patch i (affinity ε
    /// throughout, as every taken patch is), row i of (D − A)v = λDv reads v_i = mean(v)/(1 − λ). Left to rounding,
    /// which of them holds argmax v, and so which taken object a later cut's seed lands in, would depend on the
    /// solver; we set them to their common value so ties fall to the lowest index, as numpy's argmax breaks them.
    /// </summary>
    private static void TieIsolatedPatches(double[] fiedler, bool[] isolated)
    {
        int count = isolated.Count(i => i);
        if (count == 0) return;
        double common = fiedler.Where((_, i) => isolated[i]).Sum() / count;
        for (int i = 0; i < fiedler.Length; i++)
            if (isolated[i]) fiedler[i] = common;
    }
}
