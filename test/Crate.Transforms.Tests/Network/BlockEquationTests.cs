using Crate.Transforms.Network;
using static TorchSharp.torch;
using static Crate.Transforms.Tests.Network.HandComputed;

namespace Crate.Transforms.Tests.Network;

/// <summary>MSSA, ISTA and one layer against eqs. (5), (7), (8) written out with loops in double precision.</summary>
[TestClass]
public sealed class BlockEquationTests
{
    private const int Tokens = 5, Dim = 12, Heads = 3, HeadDim = 4;

    [TestMethod]
    public void MssaEqualsEquationFiveByLoops()
    {
        using var mssa = new MultiHeadSubspaceSelfAttention(Dim, Heads, HeadDim);
        using Tensor z = randn(1, Tokens, Dim) * 2;
        var weights = mssa.state_dict();
        double[,] tokens = Matrix(z[0]);
        double[,] projections = Linear(tokens, Matrix(weights["subspace_bases.weight"]));
        // Query, key and value are all U_k*z.
        double[,] mixed = Mix(Attention(projections, projections, Heads), projections);
        double[,] expected = Linear(mixed, Matrix(weights["output_projection.weight"]), Vector(weights["output_projection.bias"]));

        using (no_grad())
        {
            using Tensor fast = mssa.forward(z);
            AssertClose(expected, fast[0], 1e-5, "MSSA fast path");
            AttentionReadout readout = mssa.ForwardWithReadout(z);
            AssertClose(expected, readout.Output[0], 1e-5, "MSSA with read-out");
            AssertClose(projections, readout.KeyFeatures[0], 1e-5, "U_k*z features");
            double[][,] attention = Attention(projections, projections, Heads);
            for (int h = 0; h < Heads; h++)
                AssertClose(attention[h], readout.Attention[0, h], 1e-6, $"head {h} attention");
        }
    }

    [TestMethod]
    public void MssaWithOneFullWidthHeadHasNoOutputMap()
    {
        using var mssa = new MultiHeadSubspaceSelfAttention(Dim, 1, Dim);
        CollectionAssert.AreEquivalent(new[] { "subspace_bases.weight" }, mssa.state_dict().Keys.ToArray());
    }

    [TestMethod]
    public void MhsaEqualsEquationElevenByLoops()
    {
        using var mhsa = new MultiHeadSelfAttention(Dim, Heads, HeadDim);
        using Tensor z = randn(1, Tokens, Dim);
        var w = mhsa.state_dict();
        double[,] tokens = Matrix(z[0]);
        double[,] q = Linear(tokens, Matrix(w["query.weight"]), Vector(w["query.bias"]));
        double[,] k = Linear(tokens, Matrix(w["key.weight"]), Vector(w["key.bias"]));
        double[,] v = Linear(tokens, Matrix(w["value.weight"]), Vector(w["value.bias"]));
        double[][,] attention = Attention(q, k, Heads);
        double[,] expected = Linear(Mix(attention, v), Matrix(w["output_projection.weight"]), Vector(w["output_projection.bias"]));
        using (no_grad())
        {
            using Tensor fast = mhsa.forward(z);
            AssertClose(expected, fast[0], 1e-5, "MHSA fast path");
            AttentionReadout readout = mhsa.ForwardWithReadout(z);
            AssertClose(expected, readout.Output[0], 1e-5, "MHSA with read-out");
            AssertClose(k, readout.KeyFeatures[0], 1e-5, "key features");
            for (int h = 0; h < Heads; h++)
                AssertClose(attention[h], readout.Attention[0, h], 1e-6, $"head {h} attention");
        }
    }

    [TestMethod]
    [DataRow(false, DisplayName = "ReLU (CRATE)")]
    [DataRow(true, DisplayName = "soft threshold (CRATE-sth)")]
    public void IstaEqualsEquationSevenByLoops(bool softThreshold)
    {
        // λ = 1 and small tokens, so that both thresholds zero a good share of the entries.
        using var ista = new Ista(Dim, stepSize: 0.1, lambda: 1.0, softThreshold);
        using Tensor z = randn(2, Tokens, Dim) * 0.2;
        double[,] dictionary = Matrix(ista.Dictionary);
        using (no_grad())
        {
            using Tensor output = ista.forward(z);
            for (int b = 0; b < 2; b++)
                AssertClose(Ista(Matrix(z[b]), dictionary, 0.1, 1.0, softThreshold), output[b], 1e-5, $"ISTA image {b}");
            // Both zeros and non-zeros must occur, or the threshold would not have been exercised.
            double zeros = output.eq(0).to_type(ScalarType.Float32).mean().item<float>();
            Assert.IsTrue(zeros > 0.05 && zeros < 0.95, $"fraction of zeros {zeros}");
        }
    }

    [TestMethod]
    public void IstaTwoProductFormEqualsReferenceThreeProductForm()
    {
        using var ista = new Ista(96, stepSize: 0.1, lambda: 0.1, softThreshold: false);
        using Tensor x = randn(4, 50, 96);
        using (no_grad())
        {
            Tensor d = ista.Dictionary;
            // The reference: relu(x + η·(x·D − (x·Dᵀ)·D) − ηλ).
            using Tensor reference = nn.functional.relu(x + 0.1 * (x.matmul(d) - x.matmul(d.t()).matmul(d)) - 0.01);
            using Tensor ours = ista.forward(x);
            Assert.IsLessThan(1e-5, (ours - reference).abs().max().item<float>());
        }
    }

    [TestMethod]
    public void CrateLayerIsMssaWithRawSkipThenIsta()
    {
        var architecture = new CrateArchitecture
        {
            EmbeddingDim = Dim, Depth = 1, Heads = Heads, HeadDim = HeadDim, PatchSize = 1, ImageHeight = 1, ImageWidth = 1, ClassCount = 2,
        };
        using var layer = new CrateLayer(architecture);
        var w = layer.state_dict();
        using (no_grad())
        {
            // Non-trivial LayerNorm parameters, so LN(z) and z differ in a way the skip would expose.
            w["attention_norm.weight"].copy_(rand(Dim) + 0.5);
            w["attention_norm.bias"].copy_(randn(Dim) * 0.3);
            w["feedforward_norm.weight"].copy_(rand(Dim) + 0.5);
            w["feedforward_norm.bias"].copy_(randn(Dim) * 0.3);
        }
        using Tensor z = randn(1, Tokens, Dim) * 3 + 1;
        double[,] tokens = Matrix(z[0]);
        double[,] normed = LayerNorm(tokens, Vector(w["attention_norm.weight"]), Vector(w["attention_norm.bias"]));
        double[,] u = Linear(normed, Matrix(w["attention.subspace_bases.weight"]));
        double[,] mssa = Linear(Mix(Attention(u, u, Heads), u), Matrix(w["attention.output_projection.weight"]),
            Vector(w["attention.output_projection.bias"]));
        double[,] half = Add(tokens, mssa); // z^{ℓ+½} = z^ℓ + MSSA(LN z^ℓ): the raw z, as the reference code.
        double[,] expected = Ista(LayerNorm(half, Vector(w["feedforward_norm.weight"]), Vector(w["feedforward_norm.bias"])),
            Matrix(w["feedforward.dictionary"]), 0.1, 0.1);
        using (no_grad())
        {
            using Tensor output = layer.forward(z);
            AssertClose(expected, output[0], 1e-4, "CRATE layer");
        }
    }

    [TestMethod]
    public void VitLayerAddsMlpThroughItsOwnSkip()
    {
        var architecture = new CrateArchitecture
        {
            EmbeddingDim = Dim, Depth = 1, Heads = Heads, HeadDim = HeadDim, PatchSize = 1, ImageHeight = 1, ImageWidth = 1, ClassCount = 2,
            Variant = CrateVariant.ViT,
        };
        using var layer = new CrateLayer(architecture);
        var w = layer.state_dict();
        using Tensor z = randn(1, Tokens, Dim);
        double[,] tokens = Matrix(z[0]);
        double[,] normed = LayerNorm(tokens, Vector(w["attention_norm.weight"]), Vector(w["attention_norm.bias"]));
        double[,] q = Linear(normed, Matrix(w["attention.query.weight"]), Vector(w["attention.query.bias"]));
        double[,] k = Linear(normed, Matrix(w["attention.key.weight"]), Vector(w["attention.key.bias"]));
        double[,] v = Linear(normed, Matrix(w["attention.value.weight"]), Vector(w["attention.value.bias"]));
        double[,] half = Add(tokens, Linear(Mix(Attention(q, k, Heads), v), Matrix(w["attention.output_projection.weight"]),
            Vector(w["attention.output_projection.bias"])));
        double[,] hidden = Linear(LayerNorm(half, Vector(w["feedforward_norm.weight"]), Vector(w["feedforward_norm.bias"])),
            Matrix(w["feedforward.hidden.weight"]), Vector(w["feedforward.hidden.bias"]));
        for (int i = 0; i < hidden.GetLength(0); i++)
            for (int j = 0; j < hidden.GetLength(1); j++)
                hidden[i, j] = 0.5 * hidden[i, j] * (1 + Erf(hidden[i, j] / Math.Sqrt(2)));
        double[,] expected = Add(half, Linear(hidden, Matrix(w["feedforward.output.weight"]), Vector(w["feedforward.output.bias"])));
        using (no_grad())
        {
            using Tensor output = layer.forward(z);
            AssertClose(expected, output[0], 1e-4, "ViT layer");
        }
    }

    /// <summary>Abramowitz-Stegun 7.1.26 is too coarse for 1e-4; integrate erf's series instead.</summary>
    private static double Erf(double x)
    {
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
