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

        Assert.AreEqual(0, (graph.Degrees - degrees).abs().max().item<double>(), 1e-12, "degrees");
        Assert.AreEqual(0, (graph.NormalizedAffinity(x) - expected).abs().max().item<double>(), 1e-6, "M·x (B in float32)");
        Tensor laplacian = eye(grid.Count, dtype: ScalarType.Float64) - affinity / degrees.sqrt().outer(degrees.sqrt());
        Assert.AreEqual(0, (graph.NormalizedLaplacian() - laplacian).abs().max().item<double>(), 1e-12, "L_sym");

        BinaryMask mask = grid.Mask(1);
        Tensor inside = tensor(mask.Cells.ToArray()).to_type(ScalarType.Float64);
        double cut = inside.dot(affinity.mv(1 - inside)).item<double>();
        double ncut = cut / inside.dot(degrees).item<double>() + cut / (1 - inside).dot(degrees).item<double>();
        Assert.AreEqual(ncut, graph.NormalizedCut(mask), 1e-12, "Ncut");
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

        Assert.AreEqual(0.0, (fromZeroed.NormalizedLaplacian() - zeroedLater.NormalizedLaplacian()).abs().max().item<double>(), "same graph");
        // A zero feature has affinity ε with every patch, itself included, and no NaN from the normalisation.
        Assert.AreEqual(grid.Count * AffinityGraph.Epsilon, fromZeroed.Degrees[taken.Cells.IndexOf(true)].item<double>(), 1e-15);
        Assert.IsFalse(fromZeroed.NormalizedLaplacian().isnan().any().item<bool>());
    }
}
