using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Crate.Transforms.MLNet;

/// <summary>Crate.MLNet's transformers that run a network, seen without their option and result types.</summary>
internal interface INetworkOwner
{
    /// <summary>The transformer's lease on its network; disposed with the transformer.</summary>
    NetworkLease Network { get; }

    /// <summary>Adds the transformer's output columns.</summary>
    void AddOutputColumns(DataViewSchema.Builder builder);

    /// <summary>Reports to <paramref name="environment"/> (the MLContext) and stops when it is cancelled (see <see cref="NetworkRunLog"/>).</summary>
    void AttachTo(IHostEnvironment environment);
}

/// <summary>
/// Base of Crate.MLNet's transformers that run a CRATE network over an image column (the classifier and the
/// read-outs): it places the network for inference without touching the network it was given, reads and batches the
/// images, declares the added columns once for both the schema and the getters, saves the network and the options
/// into a pipeline file, and owns its lease on the network.
/// </summary>
/// <remarks>
/// These transformers are <see cref="IDisposable"/>: disposing one releases its lease on the network, and a network
/// that Crate.MLNet loaded (from a model file, a checkpoint or a pipeline file) or copied (to another device or
/// precision) is freed with its last holder. A network you passed in as a <see cref="CrateModel"/> stays yours.
/// ML.NET's <c>TransformerChain</c> disposes the transformers it holds, so disposing a fitted or loaded pipeline
/// frees its networks.
/// </remarks>
/// <typeparam name="TOptions">The options, saved with the transformer.</typeparam>
/// <typeparam name="TResult">What the network yields for one row.</typeparam>
public abstract class CrateNetworkTransformer<TOptions, TResult> : NetworkTransformer<ImagePixels, TResult>, INetworkOwner, IDisposable
    where TOptions : class
{
    private readonly NetworkLease? network;
    private readonly Device? device;
    private readonly ComputePrecision precision;
    private readonly string? precisionNote;
    private IReadOnlyList<OutputColumn<TResult>>? outputs;
    private IHost? host;

    /// <summary>
    /// Places <paramref name="source"/>'s network on the chosen device in the chosen precision (sharing it when it is
    /// already there, copying it otherwise); a null source makes a transformer that only describes its schema.
    /// </summary>
    internal CrateNetworkTransformer(NetworkLease? source, CrateArchitecture architecture, TOptions options, ComputeDevice device,
        ComputePrecision precision)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        Architecture = architecture;
        this.precision = precision;
        if (source is not null)
        {
            network = ComputeDeviceSelector.PlaceForInference(source, device, precision, out Device placed, out this.precision, out precisionNote);
            this.device = placed;
        }
    }

    /// <summary>The options.</summary>
    public TOptions Options { get; }

    /// <summary>The network's architecture.</summary>
    public CrateArchitecture Architecture { get; }

    /// <summary>The network this transformer runs, on its device and in its precision.</summary>
    public CrateModel Model => Lease.Model;

    NetworkLease INetworkOwner.Network => Lease;

    private NetworkLease Lease => network
        ?? throw new InvalidOperationException($"This {GetType().Name} only describes its output schema; fit the estimator to get one that runs.");

    /// <summary>The image column read.</summary>
    internal abstract string InputColumnName { get; }

    /// <summary>Height of the network's input, in pixels.</summary>
    public abstract int ImageHeight { get; }

    /// <summary>Width of the network's input, in pixels.</summary>
    public abstract int ImageWidth { get; }

    /// <summary>The normalisation applied after resizing.</summary>
    internal abstract ImageNormalization Normalization { get; }

    /// <summary>Rows per network pass.</summary>
    internal abstract int BatchSize { get; }

    /// <summary>The columns added, in order.</summary>
    internal abstract IEnumerable<OutputColumn<TResult>> DeclareOutputs();

    /// <summary>
    /// The results of one batch, one per row: <paramref name="images"/> is the normalised network input
    /// [B, 3, H, W] on the network's device and in its precision, <paramref name="originals"/> the images as read.
    /// Runs under no_grad inside a dispose scope.
    /// </summary>
    internal abstract IReadOnlyList<TResult> Compute(Tensor images, IReadOnlyList<ImagePixels> originals);

    /// <summary>What the transformer saves besides its network and options (e.g. a fitted basis).</summary>
    internal virtual void SaveState(CratePipelineWriter writer)
    {
    }

    private IReadOnlyList<OutputColumn<TResult>> Outputs => outputs ??= DeclareOutputs().ToArray();

    /// <summary>Adds the output columns (also what the estimator's GetOutputSchema reports).</summary>
    public void AddOutputColumns(DataViewSchema.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (OutputColumn<TResult> column in Outputs)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
    }

    /// <inheritdoc />
    public override void SaveTo(CratePipelineWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNetworkAndOptions(Model, Options);
        SaveState(writer);
    }

    void INetworkOwner.AttachTo(IHostEnvironment environment) => AttachTo(environment);

    /// <summary>Logs to <paramref name="environment"/>'s log (mlContext.Log) and stops when it is cancelled; the catalogs,
    /// the trainer and <see cref="CratePipelineFile.Load"/> attach what they make to their MLContext.</summary>
    internal void AttachTo(IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        host = environment.Register(GetType().Name);
    }

    /// <summary>The log of one pass over the image column <paramref name="columnName"/>: call it around each batch.</summary>
    internal NetworkRunLog CreateRunLog(string columnName) => new(host, () =>
        $"Reading column '{columnName}' at {ImageWidth}×{ImageHeight} on {device} in {precision}, {BatchSize} images a batch." +
        (precisionNote is null ? "" : $" {precisionNote}"));

    /// <summary>Releases this transformer's lease on its network (see the remarks on the class).</summary>
    public void Dispose()
    {
        network?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    private protected override NetworkRowMapper<ImagePixels, TResult> CreateMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    private sealed class Mapper : NetworkRowMapper<ImagePixels, TResult>
    {
        private readonly CrateNetworkTransformer<TOptions, TResult> owner;
        private readonly ImageColumn image;
        private readonly NetworkRunLog log;

        public Mapper(CrateNetworkTransformer<TOptions, TResult> owner, DataViewSchema schema) : base(schema)
        {
            this.owner = owner;
            image = ImageColumn.Find(schema, owner.InputColumnName, owner.ImageHeight, owner.ImageWidth);
            log = owner.CreateRunLog(image.Column.Name);
        }

        public override IReadOnlyList<DataViewSchema.Column> InputColumns => [image.Column];

        public override int BatchSize => owner.BatchSize;

        public override void AddOutputColumns(DataViewSchema.Builder builder) => owner.AddOutputColumns(builder);

        public override Func<ImagePixels> CreateInputReader(DataViewRow row)
        {
            Func<ImagePixels> read = image.CreateReader(row);
            int p = owner.Architecture.PatchSize;
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
            log.BeforeBatch();
            CrateModel model = owner.Model;
            IReadOnlyList<TResult> results;
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                Tensor images = owner.Normalization.ToBatch(batch, owner.ImageHeight, owner.ImageWidth, owner.device!).to_type(model.ElementType);
                results = owner.Compute(images, batch);
            }
            log.AfterBatch(batch.Count);
            return results;
        }

        public override Delegate CreateOutputGetter(int outputIndex, Func<TResult> currentResult) =>
            owner.Outputs[outputIndex].CreateGetter(currentResult);
    }
}
