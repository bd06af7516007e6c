using Crate.Transforms.Network;
using Onnx;
using static Crate.Transforms.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace Crate.Transforms.Onnx;

/// <summary>
/// The ONNX translation of <see cref="CrateModel"/>'s forward pass, block by block as Network/ writes it: the
/// f⁰ operator (patchify in (p1, p2, c) order, LayerNorm, linear, LayerNorm, [CLS], positions), each layer
/// z + attention(LN z) followed by ISTA(LN ·) or the MLP with its skip, then pooling, LayerNorm and the head.
/// Initializers keep the state-dict names; linear maps multiply by the transposed weight (a Transpose node that
/// ONNX Runtime folds at load). LayerNorm is opset 17's LayerNormalization with TorchSharp's ε = 1e-5.
/// </summary>
internal sealed class CrateOnnxGraph
{
    private const float LayerNormEpsilon = 1e-5f; // nn.LayerNorm's default, as the network uses it

    private readonly OnnxGraphBuilder g;
    private readonly CrateArchitecture architecture;
    private readonly IReadOnlyDictionary<string, Tensor> weights;
    private readonly Dictionary<string, string> initializers = new(StringComparer.Ordinal);
    private readonly int? gridHeight;
    private readonly int? gridWidth;
    private string gridShape = ""; // int64 [2] = (h, w) of the input, for dynamic sizes

    private CrateOnnxGraph(OnnxGraphBuilder builder, CrateArchitecture architecture, IReadOnlyDictionary<string, Tensor> weights,
        int? gridHeight, int? gridWidth)
    {
        g = builder;
        this.architecture = architecture;
        this.weights = weights;
        this.gridHeight = gridHeight;
        this.gridWidth = gridWidth;
    }

    /// <summary>
    /// The graph of <paramref name="model"/> for <paramref name="options"/>, whose image size is already resolved
    /// (null height and width with a dynamic size).
    /// </summary>
    public static GraphProto Build(CrateModel model, CrateOnnxExportOptions options, out long initializerBytes)
    {
        CrateArchitecture a = model.Architecture;
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach(), StringComparer.Ordinal);
        int? h = options.ImageHeight / a.PatchSize, w = options.ImageWidth / a.PatchSize;
        var builder = new OnnxGraphBuilder("crate");
        var graph = new CrateOnnxGraph(builder, a, weights, h, w);
        if (!options.DynamicImageSize)
            weights["pos_embedding"] = model.PositionalEmbeddingFor(h!.Value, w!.Value).detach();
        graph.Emit(options);
        initializerBytes = builder.InitializerBytes;
        return builder.Graph;
    }

    private object GridHeightDim => (object?)gridHeight ?? "grid_height";

    private object GridWidthDim => (object?)gridWidth ?? "grid_width";

    private object TokenDim => gridHeight is int gh && gridWidth is int gw ? gh * gw + 1 : "tokens";

    private void Emit(CrateOnnxExportOptions options)
    {
        int c = architecture.Channels;
        string image = g.Input(CrateOnnxExporter.ImageInput, "batch", c,
            (object?)options.ImageHeight ?? "height", (object?)options.ImageWidth ?? "width");
        string x = image;
        if (options.Normalization is { } normalization)
        {
            g.Scope = "normalization";
            x = g.Node("Sub", [x, g.Constant(normalization.Mean, 1, c, 1, 1)]);
            x = g.Node("Div", [x, g.Constant(normalization.Std, 1, c, 1, 1)]);
        }

        string tokens = Embed(x);
        var clsAttention = new Dictionary<int, string>();
        string? headFeatures = null;
        for (int l = 0; l < architecture.Depth; l++)
        {
            (tokens, string attention, string features) = Layer(tokens, l);
            if (options.ClsAttentionLayers.Contains(l))
                clsAttention[l] = ClsAttentionOverPatches(attention, l);
            if (options.HeadFeaturesLayer == l)
                headFeatures = features;
        }

        g.Scope = "head";
        string pooled = architecture.Pooling == TokenPooling.Cls
            ? g.Node("Gather", [tokens, g.Int64Scalar(0)], [Attribute("axis", 1L)])
            : g.Node("ReduceMean", [tokens], [Attribute("axes", new long[] { 1 }), Attribute("keepdims", 0L)]);
        string logits = Linear(LayerNorm(pooled, "head_norm"), "head", CrateOnnxExporter.LogitsOutput);
        g.Node("Softmax", [logits], [Attribute("axis", -1L)], CrateOnnxExporter.ProbabilitiesOutput);
        int classes = architecture.ClassCount;
        g.Output(CrateOnnxExporter.LogitsOutput, "batch", classes);
        g.Output(CrateOnnxExporter.ProbabilitiesOutput, "batch", classes);
        if (options.ClsAttentionLayers.Count > 0)
        {
            g.Scope = "readouts";
            g.Node("Concat", options.ClsAttentionLayers.Select(l => clsAttention[l]).ToArray(), [Attribute("axis", 1L)],
                CrateOnnxExporter.ClsAttentionOutput);
            g.Output(CrateOnnxExporter.ClsAttentionOutput, "batch", options.ClsAttentionLayers.Count, architecture.Heads, GridHeightDim, GridWidthDim);
        }
        if (headFeatures is not null)
        {
            g.Scope = "readouts";
            g.Node("Identity", [headFeatures], output: CrateOnnxExporter.HeadFeaturesOutput);
            g.Output(CrateOnnxExporter.HeadFeaturesOutput, "batch", TokenDim, architecture.InnerDim);
        }
    }

    /// <summary>The f⁰ operator: images [B, C, H, W] → Z¹ [B, N+1, d] (CrateModel.Embed).</summary>
    private string Embed(string images)
    {
        int p = architecture.PatchSize, d = architecture.EmbeddingDim;
        long patchDim = architecture.PatchDim;
        g.Scope = "patch_embedding";
        // SpaceToDepth's channel index is (row in patch · P + column in patch) · C + channel: exactly the
        // reference's 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' once the grid is moved last and flattened.
        string blocks = g.Node("SpaceToDepth", [images], [Attribute("blocksize", (long)p)]);   // [B, P·P·C, h, w]
        if (gridHeight is null)
            gridShape = g.Node("Slice", [g.Node("Shape", [blocks]), g.Int64s(2), g.Int64s(4)]);
        string patches = g.Node("Reshape", [g.Node("Transpose", [blocks], [Attribute("perm", new long[] { 0, 2, 3, 1 })]), g.Int64s(0, -1, patchDim)]);
        patches = LayerNorm(patches, "patch_embedding.patch_norm");
        patches = Linear(patches, "patch_embedding.projection");
        patches = LayerNorm(patches, "patch_embedding.token_norm");

        g.Scope = "embedding";
        string batch = g.Node("Slice", [g.Node("Shape", [images]), g.Int64s(0), g.Int64s(1)]);
        string cls = g.Node("Expand", [Weight("cls_token"), g.Node("Concat", [batch, g.Int64s(1, d)], [Attribute("axis", 0L)])]);
        string tokens = g.Node("Concat", [cls, patches], [Attribute("axis", 1L)]);
        return g.Node("Add", [tokens, gridHeight is null ? ResizedPositions() : Weight("pos_embedding")]);
    }

    /// <summary>
    /// The positional embedding resized in the graph to the input's grid (PositionalEmbedding.Resize): the patch
    /// positions as a d-channel h₀×w₀ image resized bicubically, the [CLS] position kept.
    /// </summary>
    private string ResizedPositions()
    {
        int d = architecture.EmbeddingDim, h0 = architecture.GridHeight, w0 = architecture.GridWidth;
        string embedding = Weight("pos_embedding");                                            // [1, 1 + h₀w₀, d]
        string cls = g.Node("Slice", [embedding, g.Int64s(0), g.Int64s(1), g.Int64s(1)]);
        string grid = g.Node("Slice", [embedding, g.Int64s(1), g.Int64s(long.MaxValue), g.Int64s(1)]);
        grid = g.Node("Transpose", [g.Node("Reshape", [grid, g.Int64s(1, h0, w0, d)])], [Attribute("perm", new long[] { 0, 3, 1, 2 })]);
        string sizes = g.Node("Concat", [g.Int64s(1, d), gridShape], [Attribute("axis", 0L)]);
        string resized = g.BicubicResize(grid, sizes);
        string patches = g.Node("Reshape", [g.Node("Transpose", [resized], [Attribute("perm", new long[] { 0, 2, 3, 1 })]), g.Int64s(1, -1, d)]);
        return g.Node("Concat", [cls, patches], [Attribute("axis", 1L)]);
    }

    /// <summary>One layer f^ℓ (CrateLayer.forward); also returns the attention [B, K, T, T] and the head features [B, T, K·p].</summary>
    private (string Output, string Attention, string HeadFeatures) Layer(string tokens, int l)
    {
        string prefix = $"layers.{l}";
        CrateVariant variant = architecture.Variant;
        g.Scope = $"{prefix}.attention";
        string normalised = LayerNorm(tokens, $"{prefix}.attention_norm");
        (string update, string attention, string features) = variant is CrateVariant.ViT or CrateVariant.CrateMhsa
            ? MultiHeadSelfAttention(normalised, $"{prefix}.attention")
            : MultiHeadSubspaceSelfAttention(normalised, $"{prefix}.attention");
        string half = g.Node("Add", [tokens, update]);
        g.Scope = $"{prefix}.feedforward";
        string input = LayerNorm(half, $"{prefix}.feedforward_norm");
        string output = variant switch
        {
            CrateVariant.ViT or CrateVariant.CrateMlp => g.Node("Add", [half, Mlp(input, $"{prefix}.feedforward")]),
            _ => Ista(input, $"{prefix}.feedforward", softThreshold: variant == CrateVariant.CrateSoftThreshold),
        };
        return (output, attention, features);
    }

    /// <summary>MSSA (eq. 5): w = U*z serves as query, key and value; softmax(w wᵀ·p^-½) w per head, then the output map.</summary>
    private (string Output, string Attention, string Features) MultiHeadSubspaceSelfAttention(string tokens, string prefix)
    {
        string features = Linear(tokens, $"{prefix}.subspace_bases");
        string w = SplitHeads(features);
        string attention = Attention(w, w);
        string merged = MergeHeads(g.Node("MatMul", [attention, w]));
        // As in the reference, the output map is absent when K = 1 and p = d.
        string output = weights.ContainsKey($"{prefix}.output_projection.weight") ? Linear(merged, $"{prefix}.output_projection") : merged;
        return (output, attention, features);
    }

    /// <summary>ViT's MHSA: separate query, key and value maps with bias; the keys are its head features.</summary>
    private (string Output, string Attention, string Features) MultiHeadSelfAttention(string tokens, string prefix)
    {
        string keys = Linear(tokens, $"{prefix}.key");
        string attention = Attention(SplitHeads(Linear(tokens, $"{prefix}.query")), SplitHeads(keys));
        string merged = MergeHeads(g.Node("MatMul", [attention, SplitHeads(Linear(tokens, $"{prefix}.value"))]));
        return (Linear(merged, $"{prefix}.output_projection"), attention, keys);
    }

    /// <summary>softmax(q kᵀ · p^-½) over the last axis, [B, K, T, T] (the order of the introspecting path).</summary>
    private string Attention(string queries, string keys)
    {
        string transposedKeys = g.Node("Transpose", [keys], [Attribute("perm", new long[] { 0, 1, 3, 2 })]);
        string scores = g.Node("Mul", [g.Node("MatMul", [queries, transposedKeys]), g.Scalar((float)Math.Pow(architecture.HeadDim, -0.5))]);
        return g.Node("Softmax", [scores], [Attribute("axis", -1L)]);
    }

    /// <summary>ISTA (eq. 7) in Ista.forward's form for passes of many tokens: u = x·M with M = I + η·(D − Dᵀ·D) (built from the initializer D,
    /// which ONNX Runtime folds into a constant), then ReLU(u − ηλ) or the soft threshold.</summary>
    private string Ista(string x, string prefix, bool softThreshold)
    {
        string dictionary = Weight($"{prefix}.dictionary");
        string gradientStep = g.Node("Sub", [dictionary, g.Node("MatMul", [Transposed(dictionary), dictionary])]);
        string stepMatrix = g.Node("Add", [g.Node("EyeLike", [dictionary]), g.Node("Mul", [gradientStep, g.Scalar((float)architecture.IstaStepSize)])]);
        string u = g.Node("MatMul", [x, stepMatrix]);
        string threshold = g.Scalar((float)(architecture.IstaStepSize * architecture.IstaLambda));
        if (!softThreshold)
            return g.Node("Relu", [g.Node("Sub", [u, threshold])]);
        return g.Node("Mul", [g.Node("Sign", [u]), g.Node("Relu", [g.Node("Sub", [g.Node("Abs", [u]), threshold])])]);
    }

    /// <summary>ViT's MLP: Linear, exact GELU x·½·(1 + erf(x/√2)) (TorchSharp's default, no tanh approximation), Linear.</summary>
    private string Mlp(string x, string prefix)
    {
        string hidden = Linear(x, $"{prefix}.hidden");
        // The order ONNX Runtime recognises and fuses into one Gelu kernel.
        string erf = g.Node("Erf", [g.Node("Div", [hidden, g.Scalar(MathF.Sqrt(2f))])]);
        string gelu = g.Node("Mul", [g.Node("Mul", [hidden, g.Node("Add", [erf, g.Scalar(1f)])]), g.Scalar(0.5f)]);
        return Linear(gelu, $"{prefix}.output");
    }

    /// <summary>Eq. (10): row 0 of the attention over the patch columns, renormalised, as [B, 1, K, h, w].</summary>
    private string ClsAttentionOverPatches(string attention, int l)
    {
        g.Scope = $"layers.{l}.cls_attention";
        string row = g.Node("Gather", [attention, g.Int64Scalar(0)], [Attribute("axis", 2L)]);           // [B, K, T]
        string patches = g.Node("Slice", [row, g.Int64s(1), g.Int64s(long.MaxValue), g.Int64s(2)]);      // [B, K, N]
        string normalised = g.Node("Div", [patches, g.Node("ReduceSum", [patches, g.Int64s(-1)], [Attribute("keepdims", 1L)])]);
        string shape = gridHeight is int h && gridWidth is int w
            ? g.Int64s(0, 1, architecture.Heads, h, w)
            : g.Node("Concat", [g.Int64s(0, 1, architecture.Heads), gridShape], [Attribute("axis", 0L)]);
        return g.Node("Reshape", [normalised, shape]);
    }

    /// <summary>[B, T, K·p] → [B, K, T, p].</summary>
    private string SplitHeads(string x) =>
        g.Node("Transpose", [g.Node("Reshape", [x, g.Int64s(0, 0, architecture.Heads, architecture.HeadDim)])],
            [Attribute("perm", new long[] { 0, 2, 1, 3 })]);

    /// <summary>[B, K, T, p] → [B, T, K·p].</summary>
    private string MergeHeads(string x) =>
        g.Node("Reshape", [g.Node("Transpose", [x], [Attribute("perm", new long[] { 0, 2, 1, 3 })]), g.Int64s(0, 0, architecture.InnerDim)]);

    /// <summary>nn.Linear: x·Wᵀ (+ b when the layer has a bias); the last node is named <paramref name="output"/> when given.</summary>
    private string Linear(string x, string prefix, string? output = null)
    {
        string product = g.Node("MatMul", [x, Transposed(Weight($"{prefix}.weight"))],
            output: weights.ContainsKey($"{prefix}.bias") ? null : output);
        return weights.ContainsKey($"{prefix}.bias") ? g.Node("Add", [product, Weight($"{prefix}.bias")], output: output) : product;
    }

    private string LayerNorm(string x, string prefix) =>
        g.Node("LayerNormalization", [x, Weight($"{prefix}.weight"), Weight($"{prefix}.bias")],
            [Attribute("axis", -1L), Attribute("epsilon", LayerNormEpsilon)]);

    private string Transposed(string matrix) => g.Node("Transpose", [matrix], [Attribute("perm", new long[] { 1, 0 })]);

    /// <summary>The initializer of state-dict entry <paramref name="name"/>, added on first use.</summary>
    private string Weight(string name)
    {
        if (initializers.TryGetValue(name, out string? existing)) return existing;
        if (!weights.TryGetValue(name, out Tensor? value))
            throw new InvalidOperationException($"The network has no parameter '{name}' that its variant {architecture.Variant} needs.");
        return initializers[name] = g.Initializer(name, value);
    }
}
