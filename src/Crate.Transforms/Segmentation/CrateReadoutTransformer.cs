using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// Base of the transforms that read CRATE's internals (Appendix B): each batch of images goes through the network
/// once (usually <see cref="CrateModel.Introspect"/>), and the subclass turns what it read for each image into its
/// output columns. The network is placed by the options' <see cref="CrateReadoutOptions.Device"/> and
/// <see cref="CrateReadoutOptions.Precision"/> without changing the network it was given; the transformer is
/// <see cref="IDisposable"/> (see <see cref="CrateNetworkTransformer{TOptions,TResult}"/>).
/// </summary>
/// <typeparam name="TOptions">The read-out's options.</typeparam>
/// <typeparam name="TResult">What one image yields.</typeparam>
public abstract class CrateReadoutTransformer<TOptions, TResult> : CrateNetworkTransformer<TOptions, TResult>
    where TOptions : CrateReadoutOptions
{
    /// <summary>Checks the options against the architecture and places the network (none: a schema-only transformer).</summary>
    internal CrateReadoutTransformer(NetworkLease? network, CrateArchitecture architecture, TOptions options)
        : base(network, architecture, Checked(architecture, options), options.Device, options.Precision)
    {
        ImageHeight = options.ImageHeight ?? architecture.ImageHeight;
        ImageWidth = options.ImageWidth ?? architecture.ImageWidth;
    }

    private static TOptions Checked(CrateArchitecture architecture, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        if (options.PatchSize is int declared && declared != architecture.PatchSize)
            throw new ArgumentException(
                $"The options declare patch size {declared}, but the model was built with patch size {architecture.PatchSize}.", nameof(options));
        int height = options.ImageHeight ?? architecture.ImageHeight, width = options.ImageWidth ?? architecture.ImageWidth;
        int p = architecture.PatchSize;
        if (height < p || width < p || height % p != 0 || width % p != 0)
            throw new ArgumentException(
                $"The network input {width}×{height} must be positive multiples of the patch size {p}.", nameof(options));
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
        return options;
    }

    /// <summary>Network input height in pixels.</summary>
    public override int ImageHeight { get; }

    /// <summary>Network input width in pixels.</summary>
    public override int ImageWidth { get; }

    /// <summary>Patch rows h of the network's grid.</summary>
    public int GridHeight => ImageHeight / Architecture.PatchSize;

    /// <summary>Patch columns w of the network's grid.</summary>
    public int GridWidth => ImageWidth / Architecture.PatchSize;

    internal override string InputColumnName => Options.InputColumnName;

    internal override ImageNormalization Normalization => Options.Normalization;

    internal override int BatchSize => Options.BatchSize;

    /// <summary>Splits a batch tensor [B, ...] into one flat array per image (copied to the CPU; half precision as float32).</summary>
    internal static T[][] SplitRows<T>(Tensor batch) where T : unmanaged
    {
        using var scope = NewDisposeScope();
        Tensor values = batch.is_floating_point() ? batch.to_type(ScalarType.Float32) : batch;
        T[] all = values.cpu().contiguous().data<T>().ToArray();
        int count = (int)batch.shape[0], size = all.Length / count;
        return Enumerable.Range(0, count).Select(i => all.AsSpan(i * size, size).ToArray()).ToArray();
    }

    /// <summary>Splits a float batch tensor into one flat array per image.</summary>
    internal static float[][] SplitRows(Tensor batch) => SplitRows<float>(batch);

    /// <summary>Checks a layer index against the model, naming the range.</summary>
    internal int CheckLayer(int layer)
    {
        int depth = Architecture.Depth;
        if (layer < 0 || layer >= depth)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer {layer} is out of range: the model has {depth} layers (0..{depth - 1}).");
        return layer;
    }

    /// <summary>Checks head indices against the model, naming the range; null means every head.</summary>
    internal int[] CheckHeads(IReadOnlyList<int>? heads)
    {
        int count = Architecture.Heads;
        if (heads is null) return Enumerable.Range(0, count).ToArray();
        if (heads.Count == 0) throw new ArgumentException("The head list is empty.", nameof(heads));
        foreach (int head in heads)
            if (head < 0 || head >= count)
                throw new ArgumentOutOfRangeException(nameof(heads), head, $"Head {head} is out of range: the model has {count} heads (0..{count - 1}).");
        return heads.ToArray();
    }
}
