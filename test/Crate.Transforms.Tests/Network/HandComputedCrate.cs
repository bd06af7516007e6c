using Crate.Transforms.Network;
using static TorchSharp.torch;
using static Crate.Transforms.Tests.Network.HandComputed;

namespace Crate.Transforms.Tests.Network;

/// <summary>What the hand computation gives for one layer of one image.</summary>
/// <param name="Attention">Per head, the [T, T] attention of eq. (5) (eq. 11 for MHSA).</param>
/// <param name="HeadFeatures">[T, K·p]: U_k*z for MSSA, the keys for MHSA.</param>
/// <param name="Output">[T, d]: the layer's output tokens.</param>
internal sealed record HandLayer(double[][,] Attention, double[,] HeadFeatures, double[,] Output)
{
    /// <summary>Eq. (10) by hand: row 0 of head <paramref name="head"/>'s attention over the patch columns 1…N,
    /// divided by its sum.</summary>
    public double[] ClsAttention(int head)
    {
        int tokens = Attention[head].GetLength(1);
        double[] row = Enumerable.Range(1, tokens - 1).Select(j => Attention[head][0, j]).ToArray();
        double total = row.Sum();
        return row.Select(a => a / total).ToArray();
    }
}

/// <summary>
/// The whole CRATE forward pass (every <see cref="CrateVariant"/>) for one image, written out with the loops of
/// <see cref="HandComputed"/> in double precision from a model's state_dict and architecture: eq. (5)/(11) attention,
/// eq. (7) ISTA or ViT's MLP, eq. (8) layers with the reference's raw skip, eq. (9) head. Nothing of the model's
/// code runs; it supplies weights only.
/// </summary>
internal sealed class HandComputedCrate(CrateModel model)
{
    private readonly Dictionary<string, double[,]> matrices = new();
    private readonly Dictionary<string, double[]> vectors = new();
    private readonly Dictionary<string, Tensor> state = model.state_dict();

    public CrateArchitecture Architecture { get; } = model.Architecture;

    private double[,] M(string key) => matrices.TryGetValue(key, out double[,]? m) ? m : matrices[key] = Matrix(state[key].detach());

    private double[] V(string key) => vectors.TryGetValue(key, out double[]? v) ? v : vectors[key] = Vector(state[key].detach());

    /// <summary>The patch tokens of one image [C, H, W]: patch LayerNorm, linear map, token LayerNorm: [N, d].</summary>
    public double[,] PatchTokens(Tensor image) =>
        LayerNorm(
            Linear(LayerNorm(PatchRows(image, Architecture.PatchSize), V("patch_embedding.patch_norm.weight"), V("patch_embedding.patch_norm.bias")),
                M("patch_embedding.projection.weight"), V("patch_embedding.projection.bias")),
            V("patch_embedding.token_norm.weight"), V("patch_embedding.token_norm.bias"));

    /// <summary>f⁰: the patch tokens with [CLS] prepended and positions added (native grid): [N+1, d] for one image
    /// [C, H, W].</summary>
    public double[,] Embed(Tensor image)
    {
        double[,] patches = PatchTokens(image);
        int n = patches.GetLength(0), d = patches.GetLength(1);
        Assert.AreEqual(Architecture.PatchCount, n, "the hand computation covers the native grid only");
        double[] cls = V("cls_token");
        double[,] positions = Matrix(state["pos_embedding"].detach()[0]);
        var tokens = new double[n + 1, d];
        for (int j = 0; j < d; j++) tokens[0, j] = cls[j] + positions[0, j];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) tokens[i + 1, j] = patches[i, j] + positions[i + 1, j];
        return tokens;
    }

    /// <summary>Layer <paramref name="l"/> (eq. 8) applied to tokens z [T, d].</summary>
    public HandLayer Layer(int l, double[,] z)
    {
        string p = $"layers.{l}.";
        CrateVariant variant = Architecture.Variant;
        double[,] normed = LayerNorm(z, V(p + "attention_norm.weight"), V(p + "attention_norm.bias"));
        double[][,] attention;
        double[,] features, mixed;
        if (variant is CrateVariant.ViT or CrateVariant.CrateMhsa)
        {
            double[,] q = Linear(normed, M(p + "attention.query.weight"), V(p + "attention.query.bias"));
            features = Linear(normed, M(p + "attention.key.weight"), V(p + "attention.key.bias"));
            double[,] v = Linear(normed, M(p + "attention.value.weight"), V(p + "attention.value.bias"));
            attention = Attention(q, features, Architecture.Heads);
            mixed = Mix(attention, v);
        }
        else
        {
            // MSSA: U_k*z serves as query, key and value.
            features = Linear(normed, M(p + "attention.subspace_bases.weight"));
            attention = Attention(features, features, Architecture.Heads);
            mixed = Mix(attention, features);
        }
        double[,] attended = state.ContainsKey(p + "attention.output_projection.weight")
            ? Linear(mixed, M(p + "attention.output_projection.weight"), V(p + "attention.output_projection.bias"))
            : mixed;
        double[,] half = Add(z, attended); // the raw z, as the reference code
        double[,] x = LayerNorm(half, V(p + "feedforward_norm.weight"), V(p + "feedforward_norm.bias"));
        double[,] output = variant is CrateVariant.ViT or CrateVariant.CrateMlp
            ? Add(half, Linear(Map(Linear(x, M(p + "feedforward.hidden.weight"), V(p + "feedforward.hidden.bias")), Gelu),
                M(p + "feedforward.output.weight"), V(p + "feedforward.output.bias")))
            : Ista(x, M(p + "feedforward.dictionary"), Architecture.IstaStepSize, Architecture.IstaLambda,
                softThreshold: variant == CrateVariant.CrateSoftThreshold);
        return new HandLayer(attention, features, output);
    }

    /// <summary>Eq. (9): pooling ([CLS] or the mean of all tokens, [CLS] included), LayerNorm, linear head: [C].</summary>
    public double[] Classify(double[,] tokens) => ClassifyWith(Architecture.Pooling, tokens);

    /// <summary><see cref="Classify"/> with the given pooling in place of the architecture's.</summary>
    public double[] ClassifyWith(TokenPooling pooling, double[,] tokens)
    {
        double[,] pooled = pooling == TokenPooling.Cls ? Row(tokens, 0) : MeanRow(tokens);
        double[,] logits = Linear(LayerNorm(pooled, V("head_norm.weight"), V("head_norm.bias")), M("head.weight"), V("head.bias"));
        return Enumerable.Range(0, logits.GetLength(1)).Select(j => logits[0, j]).ToArray();
    }

    /// <summary>Every layer of one image [C, H, W], then the logits.</summary>
    public (HandLayer[] Layers, double[] Logits) Forward(Tensor image)
    {
        double[,] tokens = Embed(image);
        var layers = new HandLayer[Architecture.Depth];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = Layer(l, tokens);
            tokens = layers[l].Output;
        }
        return (layers, Classify(tokens));
    }
}
