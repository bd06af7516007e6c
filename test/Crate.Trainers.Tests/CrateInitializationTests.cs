using Crate.Transforms.Network;
using Microsoft.ML;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

/// <summary>
/// The trainer's initialisations against their definitions: orthogonality measured as ‖W Wᵀ − I‖, the positional
/// embedding's and the dictionary's sample moments against their distributions' (bounds of five standard errors,
/// so a correct initialisation fails about once in a million runs and a wrong scale fails always).
/// </summary>
[TestClass]
public sealed class CrateInitializationTests
{
    private static CrateArchitecture Architecture(int d, int heads, int headDim, CrateVariant variant = CrateVariant.Crate) => new()
    {
        EmbeddingDim = d, Depth = 2, Heads = heads, HeadDim = headDim, PatchSize = 4, ImageHeight = 24, ImageWidth = 24, ClassCount = 3, Variant = variant,
    };

    private static Dictionary<string, float[]> Built(CrateArchitecture architecture, CrateInitialization initialization, int seed = 7)
    {
        manual_seed(seed);
        using var model = new CrateModel(architecture);
        NetworkInitialization.Apply(model, initialization);
        return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().flatten().data<float>().ToArray());
    }

    /// <summary>Largest |(W Wᵀ − I)ᵢⱼ| for W [rows, columns] with rows ≤ columns, else of Wᵀ W.</summary>
    private static double Orthogonality(float[] values, int rows, int columns)
    {
        using Tensor w = tensor(values, new long[] { rows, columns });
        using Tensor gram = rows <= columns ? w.matmul(w.t()) : w.t().matmul(w);
        using Tensor error = (gram - eye(gram.shape[0])).abs().max();
        return error.item<float>();
    }

    private static (double Mean, double Std) Moments(float[] values)
    {
        double mean = values.Average();
        return (mean, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)));
    }

    [TestMethod]
    public void OrthogonalMakesOrthonormalBasesOrthogonalDictionariesAndASmallPositionalEmbedding()
    {
        // K·p < d (orthonormal rows) and K·p > d (orthonormal columns).
        foreach ((int d, int heads, int headDim) in new[] { (24, 2, 8), (16, 4, 8) })
        {
            Dictionary<string, float[]> built = Built(Architecture(d, heads, headDim), CrateInitialization.Orthogonal);
            Dictionary<string, float[]> reference = Built(Architecture(d, heads, headDim), CrateInitialization.Reference);
            for (int layer = 0; layer < 2; layer++)
            {
                Assert.IsLessThan(1e-5, Orthogonality(built[$"layers.{layer}.attention.subspace_bases.weight"], heads * headDim, d), $"U of layer {layer}, d {d}");
                Assert.IsLessThan(1e-5, Orthogonality(built[$"layers.{layer}.feedforward.dictionary"], d, d), $"D of layer {layer}, d {d}");
            }
            (double mean, double std) = Moments(built["pos_embedding"]);
            int n = built["pos_embedding"].Length;
            Assert.AreEqual(0, mean, 5 * 0.02 / Math.Sqrt(n), "positional mean");
            Assert.AreEqual(0.02, std, 5 * 0.02 / Math.Sqrt(2 * n), "positional standard deviation");
            foreach (string name in built.Keys.Where(k => k != "pos_embedding" && !k.EndsWith("subspace_bases.weight") && !k.EndsWith("feedforward.dictionary")))
                CollectionAssert.AreEqual(reference[name], built[name], $"{name} keeps the reference initialisation");
        }
    }

    [TestMethod]
    public void ReferenceIsPyTorchsDefaults()
    {
        const int d = 64;
        Dictionary<string, float[]> built = Built(Architecture(d, 4, 16), CrateInitialization.Reference);
        // kaiming_uniform with a = 0: uniform in ±√(6/d), variance 2/d.
        float[] dictionary = built["layers.0.feedforward.dictionary"].Concat(built["layers.1.feedforward.dictionary"]).ToArray();
        double bound = Math.Sqrt(6.0 / d);
        Assert.IsTrue(dictionary.All(v => Math.Abs(v) <= bound), "inside the kaiming bound");
        (double _, double std) = Moments(dictionary);
        // The sample variance of a uniform on ±b has standard error b²·√(4/45)/√n.
        Assert.AreEqual(2.0 / d, std * std, 5 * bound * bound * Math.Sqrt(4.0 / 45) / Math.Sqrt(dictionary.Length), "dictionary variance 2/d");
        (double _, double positional) = Moments(built["pos_embedding"]);
        Assert.AreEqual(1, positional, 5 / Math.Sqrt(2.0 * built["pos_embedding"].Length), "standard normal positional embedding");
        Assert.IsGreaterThan(0.01, Orthogonality(built["layers.0.feedforward.dictionary"], d, d), "a kaiming dictionary is not orthogonal");
    }

    [TestMethod]
    public void ViTKeepsItsBlocksAndGetsTheSmallPositionalEmbedding()
    {
        CrateArchitecture vit = Architecture(24, 2, 8, CrateVariant.ViT);
        Dictionary<string, float[]> built = Built(vit, CrateInitialization.Orthogonal);
        Dictionary<string, float[]> reference = Built(vit, CrateInitialization.Reference);
        foreach (string name in built.Keys.Where(k => k != "pos_embedding"))
            CollectionAssert.AreEqual(reference[name], built[name], name);
        Assert.AreEqual(0.02, Moments(built["pos_embedding"]).Std, 5 * 0.02 / Math.Sqrt(2 * built["pos_embedding"].Length));
    }

    [TestMethod]
    public void OrthogonalAllBlocksMakesViTsAttentionAndMlpOrthogonalAndLeavesCrateAsOrthogonal()
    {
        // ViT, d 24, 2 heads × 8 (inner 16 < d: q, k, v have orthonormal rows, the output projection orthonormal
        // columns), MLP 24 → 96 → 24 (orthonormal columns, then rows).
        CrateArchitecture vit = Architecture(24, 2, 8, CrateVariant.ViT);
        Dictionary<string, float[]> built = Built(vit, CrateInitialization.OrthogonalAllBlocks);
        Dictionary<string, float[]> reference = Built(vit, CrateInitialization.Reference);
        string[] matrices = built.Keys.Where(k => k.StartsWith("layers.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal)
            && !k.Contains("norm", StringComparison.Ordinal)).ToArray();
        Assert.HasCount(2 * 6, matrices, "q, k, v, output and the MLP's two matrices in each of 2 layers: " + string.Join(", ", matrices));
        foreach (string name in matrices)
        {
            int columns = name.Contains("output_projection", StringComparison.Ordinal) ? 16 : name.Contains("feedforward.output", StringComparison.Ordinal) ? 96 : 24;
            int rows = built[name].Length / columns;
            Assert.IsLessThan(1e-5, Orthogonality(built[name], rows, columns), $"{name} ({rows}×{columns}) is orthogonal");
        }
        foreach (string name in built.Keys.Where(k => k != "pos_embedding" && !matrices.Contains(k)))
            CollectionAssert.AreEqual(reference[name], built[name], $"{name} keeps the reference initialisation");
        Assert.AreEqual(0.02, Moments(built["pos_embedding"]).Std, 5 * 0.02 / Math.Sqrt(2 * built["pos_embedding"].Length));

        // CRATE has no MHSA or MLP block: the same weights as under Orthogonal, drawn in the same order.
        Dictionary<string, float[]> crate = Built(Architecture(24, 2, 8), CrateInitialization.OrthogonalAllBlocks);
        Dictionary<string, float[]> crateOrthogonal = Built(Architecture(24, 2, 8), CrateInitialization.Orthogonal);
        foreach (string name in crate.Keys) CollectionAssert.AreEqual(crateOrthogonal[name], crate[name], name);
    }

    [TestMethod]
    public void TheTrainerStartsFromTheChosenInitialisation()
    {
        // A learning rate of 1e-12 leaves the weights where they started, to float precision.
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(16, seed: 1));
        foreach (CrateInitialization initialization in Enum.GetValues<CrateInitialization>())
        {
            CrateTrainerOptions options = TinyImages.Options(epochs: 1);
            options.LearningRate = 1e-12;
            options.Initialization = initialization;
            CrateClassifierTransformer model = context.MulticlassClassification.Trainers.Crate(options).Fit(train);
            Parameter dictionary = model.Model.named_parameters().Single(p => p.name == "layers.0.feedforward.dictionary").parameter;
            double error = Orthogonality(dictionary.detach().flatten().data<float>().ToArray(), 32, 32);
            if (initialization != CrateInitialization.Reference) Assert.IsLessThan(1e-4, error, "orthogonal D");
            else Assert.IsGreaterThan(0.01, error, "kaiming D");
        }
    }
}
