using Crate.Testing;
using Crate.Transforms.Network;
using static TorchSharp.torch;
using static Crate.Transforms.Tests.Network.HandComputed;

namespace Crate.Transforms.Tests.Network;

/// <summary>MSSA, ISTA and one layer against eqs. (5), (7), (8) written out with loops in double precision.</summary>
[TestClass]
public sealed class BlockEquationTests
{
    private const int Tokens = 5, Dim = 12, Heads = 3, HeadDim = 4;

    /// <summary>
    /// A float32 block against the same formula in float64. Inputs are O(1) (z ~ N(0, 1) or 2·N(0, 1), PyTorch's
    /// default initialisation), and each output is a chain of a few dozen correctly rounded float32 operations (dot
    /// products of d = K·p = 12 terms, a softmax over 5 tokens): a few dozen u ≈ 2e-6 of magnitudes up to ~5. A wrong
    /// formula (a missing skip, a transposed D, the wrong scale) errs by O(0.1).
    /// </summary>
    private static readonly Tolerance Block = new(Absolute: 1e-5, Relative: 1e-5);

    /// <summary>Attention probabilities in [0, 1]: a score ⟨q_i, k_j⟩/√p is a sum of p = 4 products of size ≈ 1.5,
    /// off by ≲ 16·u·6 ≈ 6e-6 after the projections, and softmax turns a score error δ into a relative error ≤ 2δ.</summary>
    private static readonly Tolerance Probability = new(Absolute: 1.5e-5);

    /// <summary>A whole layer: two LayerNorms divide by per-token standard deviations of order 1–3 (z = 3·N(0, 1) + 1)
    /// and the chain is about four blocks long.</summary>
    private static readonly Tolerance Layer = new(Absolute: 1e-4, Relative: 1e-4);

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
            NumericAssert.AreClose(expected, fast[0], Block, "MSSA fast path");
            AttentionReadout readout = mssa.ForwardWithReadout(z);
            NumericAssert.AreClose(expected, readout.Output[0], Block, "MSSA with read-out");
            NumericAssert.AreClose(projections, readout.KeyFeatures[0], Block, "U_k*z features");
            double[][,] attention = Attention(projections, projections, Heads);
            for (int h = 0; h < Heads; h++)
                NumericAssert.AreClose(attention[h], readout.Attention[0, h], Probability, $"head {h} attention");
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
            NumericAssert.AreClose(expected, fast[0], Block, "MHSA fast path");
            AttentionReadout readout = mhsa.ForwardWithReadout(z);
            NumericAssert.AreClose(expected, readout.Output[0], Block, "MHSA with read-out");
            NumericAssert.AreClose(k, readout.KeyFeatures[0], Block, "key features");
            for (int h = 0; h < Heads; h++)
                NumericAssert.AreClose(attention[h], readout.Attention[0, h], Probability, $"head {h} attention");
        }
    }

    [TestMethod]
    [DataRow(false, 2, DisplayName = "ReLU (CRATE), 10 tokens: the two products")]
    [DataRow(true, 2, DisplayName = "soft threshold (CRATE-sth), 10 tokens: the two products")]
    [DataRow(false, 3, DisplayName = "ReLU (CRATE), 15 tokens: x·M")]
    [DataRow(true, 3, DisplayName = "soft threshold (CRATE-sth), 15 tokens: x·M")]
    public void IstaEqualsEquationSevenByLoops(bool softThreshold, int images)
    {
        // λ = 1 and small tokens, so that both thresholds zero a good share of the entries. A pass of more tokens
        // than d = 12 multiplies by M = I + η·(D − Dᵀ·D), a smaller one takes (x − x·Dᵀ)·D: both forms are checked.
        using var ista = new Ista(Dim, stepSize: 0.1, lambda: 1.0, softThreshold);
        using Tensor z = randn(images, Tokens, Dim) * 0.2;
        double[,] dictionary = Matrix(ista.Dictionary);
        using (no_grad())
        {
            using Tensor output = ista.forward(z);
            for (int b = 0; b < images; b++)
                NumericAssert.AreClose(Ista(Matrix(z[b]), dictionary, 0.1, 1.0, softThreshold), output[b], Block, $"ISTA image {b}");
            // Both zeros and non-zeros must occur, or the threshold would not have been exercised.
            double zeros = output.eq(0).to_type(ScalarType.Float32).mean().item<float>();
            Assert.IsTrue(zeros > 0.05 && zeros < 0.95, $"fraction of zeros {zeros}");
        }
    }

    [TestMethod]
    [DataRow(4, DisplayName = "200 tokens: x·M")]
    [DataRow(1, DisplayName = "50 tokens: the two products")]
    public void IstaEqualsTheReferencesThreeProductForm(int images)
    {
        using var ista = new Ista(96, stepSize: 0.1, lambda: 0.1, softThreshold: false);
        using Tensor x = randn(images, 50, 96);
        using (no_grad())
        {
            Tensor d = ista.Dictionary;
            // The reference: relu(x + η·(x·D − (x·Dᵀ)·D) − ηλ).
            using Tensor reference = nn.functional.relu(x + 0.1 * (x.matmul(d) - x.matmul(d.t()).matmul(d)) - 0.01);
            using Tensor ours = ista.forward(x);
            // Float32 sums of d = 96 products of x ~ N(0, 1) with |D_ij| ≤ 0.25, in two orders. The two-product form's
            // sums are off by ≲ 96·u·Σ|terms| ≈ 96·6e-8·10 ≈ 6e-5, scaled by η = 0.1 on the way into u; x·M's sums carry
            // x itself (M's diagonal is ≈ 1) plus η times the same terms, Σ|terms| ≈ 1 + 0.1·96·0.8·0.3 ≈ 3.3, so ≲ 2e-5
            // at worst, and the random signs of the rounding errors keep both far below these bounds.
            NumericAssert.AreClose(reference, ours, new Tolerance(Absolute: 2e-5, Relative: 1e-5), "our form against the three-product form");
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
            NumericAssert.AreClose(expected, output[0], Layer, "CRATE layer");
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
        double[,] expected = Add(half, Linear(Map(hidden, Gelu), Matrix(w["feedforward.output.weight"]), Vector(w["feedforward.output.bias"])));
        using (no_grad())
        {
            using Tensor output = layer.forward(z);
            NumericAssert.AreClose(expected, output[0], Layer, "ViT layer");
        }
    }
}
