using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>How a map on the patch grid is brought to the network's input size.</summary>
public enum MapUpsampling
{
    /// <summary>Keep the patch grid, h × w.</summary>
    None,

    /// <summary>Each patch's value fills its P × P pixels.</summary>
    Nearest,

    /// <summary>Bilinear interpolation (align_corners false).</summary>
    Bilinear,
}

/// <summary>Options of <see cref="CrateAttentionTransformer"/>.</summary>
public sealed record CrateAttentionOptions : CrateReadoutOptions
{
    /// <summary>The output column of [CLS] attention maps. Default "Attention".</summary>
    public string OutputColumnName { get; init; } = "Attention";

    /// <summary>Layers to read (0-based); null for the penultimate layer, as the paper's figures. Default null.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>Heads to read; null for every head. Default null.</summary>
    public IReadOnlyList<int>? Heads { get; init; }

    /// <summary>Maps at the patch grid or upsampled to the network's input size. Default <see cref="MapUpsampling.None"/>.</summary>
    public MapUpsampling Upsampling { get; init; } = MapUpsampling.None;

    /// <summary>Also output the full token-token attention [layers, heads, N+1, N+1]; null for none. Default null.</summary>
    public string? TokenAttentionColumnName { get; init; }
}

/// <summary>One image's attention read-outs.</summary>
/// <param name="Maps">[layers, heads, h, w] (or [.., H, W] when upsampled), each map summing to 1 over the grid.</param>
/// <param name="TokenAttention">[layers, heads, N+1, N+1] when requested.</param>
public sealed record AttentionMaps(float[] Maps, float[]? TokenAttention);

/// <summary>
/// Image → [CLS] attention maps (eq. 10; eq. 11 for ViT): for each chosen layer and head, row 0 of the attention
/// restricted to the patches and renormalised, shaped [layers, heads, h, w] (the vector type's dimensions).
/// </summary>
public sealed class CrateAttentionTransformer : CrateReadoutTransformer<AttentionMaps>, ICratePersistable
{
    private readonly int[] layers;
    private readonly int[] heads;

    /// <summary>Creates the transform over <paramref name="model"/>.</summary>
    public CrateAttentionTransformer(CrateModel model, CrateAttentionOptions options) : base(model, options)
    {
        AttentionOptions = options;
        layers = (options.Layers ?? [Math.Max(0, model.Architecture.Depth - 2)]).Select(CheckLayer).ToArray();
        if (layers.Length == 0) throw new ArgumentException("The layer list is empty.", nameof(options));
        heads = CheckHeads(options.Heads);
    }

    /// <summary>The options.</summary>
    public CrateAttentionOptions AttentionOptions { get; }

    /// <summary>The layers read, in output order.</summary>
    public IReadOnlyList<int> Layers => layers;

    /// <summary>The heads read, in output order.</summary>
    public IReadOnlyList<int> Heads => heads;

    private (int Height, int Width) MapSize =>
        AttentionOptions.Upsampling == MapUpsampling.None ? (GridHeight, GridWidth) : (ImageHeight, ImageWidth);

    /// <inheritdoc />
    public override void AddOutputColumns(DataViewSchema.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        (int height, int width) = MapSize;
        builder.AddColumn(AttentionOptions.OutputColumnName,
            new VectorDataViewType(NumberDataViewType.Single, layers.Length, heads.Length, height, width));
        if (AttentionOptions.TokenAttentionColumnName is string tokens)
        {
            int n = GridHeight * GridWidth + 1;
            builder.AddColumn(tokens, new VectorDataViewType(NumberDataViewType.Single, layers.Length, heads.Length, n, n));
        }
    }

    /// <inheritdoc />
    protected override IReadOnlyList<AttentionMaps> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        bool wantTokens = AttentionOptions.TokenAttentionColumnName is not null;
        using CrateIntrospection readout = Model.Introspect(images, new IntrospectionRequest
        {
            Layers = layers, ClsAttention = true, Attention = wantTokens, Sparsity = false,
        });
        Tensor headIndex = tensor(heads.Select(h => (long)h).ToArray(), device: images.device);
        // [B, layers, heads, N] in the order the options list them
        Tensor maps = stack(layers.Select(l => readout.ForLayer(l).ClsAttention!.index_select(1, headIndex)).ToArray(), 1);
        long batch = images.shape[0];
        maps = maps.reshape(batch, layers.Length * heads.Length, GridHeight, GridWidth);
        maps = AttentionOptions.Upsampling switch
        {
            MapUpsampling.Nearest => nn.functional.interpolate(maps, [ImageHeight, ImageWidth], mode: InterpolationMode.Nearest),
            MapUpsampling.Bilinear => nn.functional.interpolate(maps, [ImageHeight, ImageWidth], mode: InterpolationMode.Bilinear, align_corners: false),
            _ => maps,
        };
        float[][] mapRows = SplitRows(maps);
        float[][]? tokenRows = wantTokens
            ? SplitRows(stack(layers.Select(l => readout.ForLayer(l).Attention!.index_select(1, headIndex)).ToArray(), 1))
            : null;
        return Enumerable.Range(0, (int)batch).Select(i => new AttentionMaps(mapRows[i], tokenRows?[i])).ToArray();
    }

    /// <inheritdoc />
    protected override Delegate CreateOutputGetter(int outputIndex, Func<AttentionMaps> currentResult) =>
        outputIndex == 0 ? VectorGetter(() => currentResult().Maps) : VectorGetter(() => currentResult().TokenAttention!);

    /// <inheritdoc />
    public override void SaveTo(CratePipelineWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNetworkAndOptions(Model, AttentionOptions);
    }

    /// <summary>Reads a transform written by <see cref="SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (CrateModel network, CrateAttentionOptions options) = reader.ReadNetworkAndOptions<CrateAttentionOptions>();
        return new CrateAttentionTransformer(network, options);
    }
}
