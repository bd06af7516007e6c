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
/// restricted to the patches and renormalised, shaped [layers, heads, h, w] (the vector type's dimensions). Only the
/// [CLS] rows are computed unless the full token attention is asked for.
/// </summary>
public sealed class CrateAttentionTransformer : CrateReadoutTransformer<CrateAttentionOptions, AttentionMaps>, ICratePersistable
{
    private readonly int[] layers;
    private readonly int[] heads;

    /// <summary>Creates the transform over <paramref name="model"/>, which stays as it is (see <see cref="CrateReadoutOptions.Device"/>).</summary>
    public CrateAttentionTransformer(CrateModel model, CrateAttentionOptions options)
        : this(NetworkLease.Borrow(model), model.Architecture, options)
    {
    }

    internal CrateAttentionTransformer(NetworkLease? network, CrateArchitecture architecture, CrateAttentionOptions options)
        : base(network, architecture, options)
    {
        layers = (options.Layers ?? [Math.Max(0, architecture.Depth - 2)]).Select(CheckLayer).ToArray();
        if (layers.Length == 0) throw new ArgumentException("The layer list is empty.", nameof(options));
        heads = CheckHeads(options.Heads);
    }

    /// <summary>The layers read, in output order.</summary>
    public IReadOnlyList<int> Layers => layers;

    /// <summary>The heads read, in output order.</summary>
    public IReadOnlyList<int> Heads => heads;

    private (int Height, int Width) MapSize =>
        Options.Upsampling == MapUpsampling.None ? (GridHeight, GridWidth) : (ImageHeight, ImageWidth);

    internal override IEnumerable<OutputColumn<AttentionMaps>> DeclareOutputs()
    {
        (int height, int width) = MapSize;
        yield return OutputColumn<AttentionMaps>.Vector(Options.OutputColumnName,
            new VectorDataViewType(NumberDataViewType.Single, layers.Length, heads.Length, height, width), r => r.Maps);
        if (Options.TokenAttentionColumnName is string tokens)
        {
            int n = GridHeight * GridWidth + 1;
            yield return OutputColumn<AttentionMaps>.Vector(tokens,
                new VectorDataViewType(NumberDataViewType.Single, layers.Length, heads.Length, n, n), r => r.TokenAttention!);
        }
    }

    internal override IReadOnlyList<AttentionMaps> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        bool wantTokens = Options.TokenAttentionColumnName is not null;
        using CrateIntrospection readout = Model.Introspect(images, new IntrospectionRequest
        {
            Layers = layers, ClsAttention = true, Attention = wantTokens, Sparsity = false,
        });
        Tensor headIndex = tensor(heads.Select(h => (long)h).ToArray(), device: images.device);
        // [B, layers, heads, N] in the order the options list them
        Tensor maps = stack(layers.Select(l => readout.ForLayer(l).ClsAttention!.index_select(1, headIndex)).ToArray(), 1);
        long batch = images.shape[0];
        int count = layers.Length * heads.Length;
        float[][] mapRows = Options.Upsampling == MapUpsampling.Bilinear
            ? SplitRows(nn.functional.interpolate(maps.reshape(batch, count, GridHeight, GridWidth).to_type(ScalarType.Float32),
                [ImageHeight, ImageWidth], mode: InterpolationMode.Bilinear, align_corners: false))
            : SplitRows(maps);
        if (Options.Upsampling == MapUpsampling.Nearest)
            mapRows = mapRows.Select(UpsampleNearest).ToArray();
        float[][]? tokenRows = wantTokens
            ? SplitRows(stack(layers.Select(l => readout.ForLayer(l).Attention!.index_select(1, headIndex)).ToArray(), 1))
            : null;
        return Enumerable.Range(0, (int)batch).Select(i => new AttentionMaps(mapRows[i], tokenRows?[i])).ToArray();
    }

    /// <summary>Each of an image's [layers·heads] grid maps brought to the input size by <see cref="GridUpsampling"/>.</summary>
    private float[] UpsampleNearest(float[] gridMaps)
    {
        int cells = GridHeight * GridWidth;
        return Enumerable.Range(0, gridMaps.Length / cells)
            .SelectMany(m => GridUpsampling.Nearest<float>(gridMaps.AsSpan(m * cells, cells), GridHeight, GridWidth, ImageHeight, ImageWidth))
            .ToArray();
    }

    /// <summary>Reads a transform written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CrateAttentionOptions options) = reader.ReadNetworkAndOptions<CrateAttentionOptions>();
        return new CrateAttentionTransformer(network, network.Model.Architecture, options);
    }
}
