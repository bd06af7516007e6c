using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// Base of the transforms that read CRATE's internals (Appendix B): each batch of images goes through the
/// network once (usually <see cref="CrateModel.Introspect"/>), and the subclass turns what it read for each
/// image into its output columns.
/// </summary>
/// <typeparam name="TResult">What one image yields.</typeparam>
public abstract class CrateReadoutTransformer<TResult> : NetworkTransformer<ImagePixels, TResult>
{
    private readonly Device device;

    /// <summary>Checks the options against the model and moves the model to the chosen device.</summary>
    protected CrateReadoutTransformer(CrateModel model, CrateReadoutOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        CrateArchitecture architecture = model.Architecture;
        if (options.PatchSize is int declared && declared != architecture.PatchSize)
            throw new ArgumentException(
                $"The options declare patch size {declared}, but the model was built with patch size {architecture.PatchSize}.", nameof(options));
        ImageHeight = options.ImageHeight ?? architecture.ImageHeight;
        ImageWidth = options.ImageWidth ?? architecture.ImageWidth;
        int p = architecture.PatchSize;
        if (ImageHeight < p || ImageWidth < p || ImageHeight % p != 0 || ImageWidth % p != 0)
            throw new ArgumentException(
                $"The network input {ImageWidth}×{ImageHeight} must be positive multiples of the patch size {p}.", nameof(options));
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
        Options = options;
        Model = ComputeDeviceSelector.PlaceForInference(model, options.Device, out device);
    }

    /// <summary>The network read.</summary>
    public CrateModel Model { get; }

    /// <summary>The shared options.</summary>
    public CrateReadoutOptions Options { get; }

    /// <summary>Network input height in pixels.</summary>
    public int ImageHeight { get; }

    /// <summary>Network input width in pixels.</summary>
    public int ImageWidth { get; }

    /// <summary>Patch rows h of the network's grid.</summary>
    public int GridHeight => ImageHeight / Model.Architecture.PatchSize;

    /// <summary>Patch columns w of the network's grid.</summary>
    public int GridWidth => ImageWidth / Model.Architecture.PatchSize;

    /// <summary>Adds the output columns (also what the estimator's GetOutputSchema reports).</summary>
    public abstract void AddOutputColumns(DataViewSchema.Builder builder);

    /// <summary>
    /// The results of one batch, one per image: <paramref name="images"/> is the normalised network input
    /// [B, 3, H, W] on the model's device, <paramref name="originals"/> the images as read. Runs under no_grad
    /// inside a dispose scope.
    /// </summary>
    protected abstract IReadOnlyList<TResult> Compute(Tensor images, IReadOnlyList<ImagePixels> originals);

    /// <summary>A ValueGetter of the <paramref name="outputIndex"/>-th added column.</summary>
    protected abstract Delegate CreateOutputGetter(int outputIndex, Func<TResult> currentResult);

    /// <summary>Splits a batch tensor [B, ...] into one flat array per image (copied to the CPU).</summary>
    protected static T[][] SplitRows<T>(Tensor batch) where T : unmanaged
    {
        T[] all = batch.cpu().contiguous().data<T>().ToArray();
        int count = (int)batch.shape[0], size = all.Length / count;
        return Enumerable.Range(0, count).Select(i => all.AsSpan(i * size, size).ToArray()).ToArray();
    }

    /// <summary>Splits a float batch tensor into one flat array per image.</summary>
    protected static float[][] SplitRows(Tensor batch) => SplitRows<float>(batch);

    /// <summary>A getter that copies the current row's array into its vector column.</summary>
    protected static ValueGetter<VBuffer<T>> VectorGetter<T>(Func<T[]> current) =>
        (ref VBuffer<T> value) =>
        {
            T[] result = current();
            value = new VBuffer<T>(result.Length, (T[])result.Clone());
        };

    /// <summary>Checks a layer index against the model, naming the range.</summary>
    protected int CheckLayer(int layer)
    {
        int depth = Model.Architecture.Depth;
        if (layer < 0 || layer >= depth)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer {layer} is out of range: the model has {depth} layers (0..{depth - 1}).");
        return layer;
    }

    /// <summary>Checks head indices against the model, naming the range; null means every head.</summary>
    protected int[] CheckHeads(IReadOnlyList<int>? heads)
    {
        int count = Model.Architecture.Heads;
        if (heads is null) return Enumerable.Range(0, count).ToArray();
        if (heads.Count == 0) throw new ArgumentException("The head list is empty.", nameof(heads));
        foreach (int head in heads)
            if (head < 0 || head >= count)
                throw new ArgumentOutOfRangeException(nameof(heads), head, $"Head {head} is out of range: the model has {count} heads (0..{count - 1}).");
        return heads.ToArray();
    }

    /// <inheritdoc />
    protected override NetworkRowMapper<ImagePixels, TResult> CreateMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    private sealed class Mapper : NetworkRowMapper<ImagePixels, TResult>
    {
        private readonly CrateReadoutTransformer<TResult> owner;
        private readonly ImageColumn image;

        public Mapper(CrateReadoutTransformer<TResult> owner, DataViewSchema schema) : base(schema)
        {
            this.owner = owner;
            image = ImageColumn.Find(schema, owner.Options.InputColumnName, owner.ImageHeight, owner.ImageWidth);
        }

        public override IReadOnlyList<DataViewSchema.Column> InputColumns => [image.Column];

        public override int BatchSize => owner.Options.BatchSize;

        public override void AddOutputColumns(DataViewSchema.Builder builder) => owner.AddOutputColumns(builder);

        public override Func<ImagePixels> CreateInputReader(DataViewRow row)
        {
            Func<ImagePixels> read = image.CreateReader(row);
            int p = owner.Model.Architecture.PatchSize;
            return () =>
            {
                ImagePixels pixels = read();
                if (pixels.Height < p || pixels.Width < p)
                    throw new InvalidDataException(
                        $"Column '{image.Column.Name}', row {row.Position}: the image is {pixels.Width}×{pixels.Height}, smaller than one {p}×{p} patch.");
                return pixels;
            };
        }

        public override IReadOnlyList<TResult> Run(IReadOnlyList<ImagePixels> batch)
        {
            if (batch.Count == 0) return [];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor images = owner.Options.Normalization.ToBatch(batch, owner.ImageHeight, owner.ImageWidth, owner.device);
            return owner.Compute(images, batch);
        }

        public override Delegate CreateOutputGetter(int outputIndex, Func<TResult> currentResult) =>
            owner.CreateOutputGetter(outputIndex, currentResult);
    }
}
