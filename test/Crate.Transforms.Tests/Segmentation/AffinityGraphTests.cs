using Crate.Testing;
using Crate.Transforms.Segmentation;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>The graph's B-based products against A written out, and zeroing features against building the graph
/// from zeroed features.</summary>
[TestClass]
public sealed class AffinityGraphTests
{
    [TestMethod]
    public void ProductsMatchTheDefinition()
    {
        var grid = new PlantedGrid(7, 9, (r, c) => r > c ? 1 : 0);
        using var scope = NewDisposeScope();
        Tensor features = grid.RandomCentreFeatures(16, 0.5, 3);
        using var graph = AffinityGraph.FromFeatures(features, 0.15);

        Tensor unit = nn.functional.normalize(features.to_type(ScalarType.Float64), dim: 1);
        Tensor affinity = where(unit.matmul(unit.t()) > 0.15, 1.0, AffinityGraph.Epsilon);
        Tensor degrees = affinity.sum(1);
        Tensor x = randn(grid.Count, ScalarType.Float64);
        Tensor expected = affinity.mv(x / degrees.sqrt()) / degrees.sqrt();

        // Float64 sums of N = 63 terms of size ≤ 1: a few hundred times 1.1e-16.
        var float64 = new Tolerance(1e-12);
        NumericAssert.AreClose(degrees, graph.Degrees, float64, "degrees");
        // M·x sums B·y in float32, y = D^-½x rounded to float32: each entry is off by at most (N + 1)·u times the sum of
        // its terms' magnitudes (the classical bound for a float32 sum), then scaled by d_i^-½.
        double terms = (affinity.mv((x / degrees.sqrt()).abs()) / degrees.sqrt()).max().item<double>();
        NumericAssert.AreClose(expected, graph.NormalizedAffinity(x), new Tolerance((grid.Count + 1) * Tolerance.Float32Roundoff * terms),
            "M·x (B in float32)");
        Tensor laplacian = eye(grid.Count, dtype: ScalarType.Float64) - affinity / degrees.sqrt().outer(degrees.sqrt());
        NumericAssert.AreClose(laplacian, graph.NormalizedLaplacian(), float64, "L_sym");

        BinaryMask mask = grid.Mask(1);
        Tensor inside = tensor(mask.Cells.ToArray()).to_type(ScalarType.Float64);
        double cut = inside.dot(affinity.mv(1 - inside)).item<double>();
        double ncut = cut / inside.dot(degrees).item<double>() + cut / (1 - inside).dot(degrees).item<double>();
        NumericAssert.AreClose(ncut, graph.NormalizedCut(mask), float64, "Ncut");
    }

    [TestMethod]
    public void ZeroingFeaturesEqualsBuildingFromZeroedFeatures()
    {
        var grid = new PlantedGrid(8, 8, (r, c) => r is >= 2 and <= 5 && c is >= 2 and <= 5 ? 1 : 0);
        BinaryMask taken = grid.Mask(1);
        using var scope = NewDisposeScope();
        Tensor features = grid.RandomCentreFeatures(16, 0.5, 5);
        Tensor zeroed = features.clone();
        zeroed.index_put_(0.0f, tensor(taken.Cells.ToArray()));

        using var fromZeroed = AffinityGraph.FromFeatures(zeroed, 0.15);
        using var zeroedLater = AffinityGraph.FromFeatures(features, 0.15);
        zeroedLater.ZeroFeatures(taken);

        NumericAssert.AreEqual(fromZeroed.NormalizedLaplacian(), zeroedLater.NormalizedLaplacian(), "same graph");
        // A zero feature has affinity ε with every patch, itself included, and no NaN from the normalisation.
        NumericAssert.AreClose(grid.Count * AffinityGraph.Epsilon, fromZeroed.Degrees[taken.Cells.IndexOf(true)].item<double>(), new Tolerance(1e-15),
            "degree of a zeroed patch");
        Assert.IsTrue(fromZeroed.NormalizedLaplacian().isfinite().all().item<bool>(), "L_sym is finite");
    }
}
