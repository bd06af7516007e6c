using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>How a fitted CRATE classifier reads its rows and names its outputs; saved with the transformer.</summary>
public sealed record CrateClassifierSettings
{
    /// <summary>The image column: an MLImage, or a float vector shaped [3, H, W] in [0, 1].</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The output column of class probabilities (a vector of C floats summing to 1).</summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>The output key column of the most probable class.</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary>Images are resized to this height before the network.</summary>
    public required int ImageHeight { get; init; }

    /// <summary>Images are resized to this width before the network.</summary>
    public required int ImageWidth { get; init; }

    /// <summary>Channel normalisation applied after resizing.</summary>
    public ImageNormalization Normalization { get; init; } = new();

    /// <summary>Rows per network pass at inference.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Where inference runs.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    /// <summary>The label's values, in key order.</summary>
    public required LabelKeyValues Labels { get; init; }
}

/// <summary>
/// A fitted CRATE classifier: adds Score (class probabilities) and PredictedLabel (a key carrying the label's
/// values) to each row, running rows through the network in batches. <see cref="Model"/> is the trained network,
/// for the segmentation transforms.
/// </summary>
public sealed class CrateClassifierTransformer : NetworkTransformer<ImagePixels, float[]>, ICratePersistable
{
    private readonly Device device;

    /// <summary>Wraps a trained network; the network is moved to the settings' device.</summary>
    public CrateClassifierTransformer(CrateModel model, CrateClassifierSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Labels.Count != model.Architecture.ClassCount)
            throw new ArgumentException($"The label has {settings.Labels.Count} values but the network has {model.Architecture.ClassCount} classes.", nameof(settings));
        if (settings.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(settings), settings.BatchSize, "BatchSize must be at least 1.");
        Settings = settings;
        Model = ComputeDeviceSelector.PlaceForInference(model, settings.Device, out device);
    }

    /// <summary>The trained network.</summary>
    public CrateModel Model { get; }

    /// <summary>Column names, input size, normalisation and labels.</summary>
    public CrateClassifierSettings Settings { get; }

    /// <inheritdoc />
    protected override NetworkRowMapper<ImagePixels, float[]> CreateMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    /// <inheritdoc />
    public override void SaveTo(CratePipelineWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNetworkAndOptions(Model, Settings);
    }

    /// <summary>Reads a transformer written by <see cref="SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (CrateModel network, CrateClassifierSettings settings) = reader.ReadNetworkAndOptions<CrateClassifierSettings>();
        return new CrateClassifierTransformer(network, settings);
    }

    private sealed class Mapper : NetworkRowMapper<ImagePixels, float[]>
    {
        private readonly CrateClassifierTransformer owner;
        private readonly ImageColumn image;

        public Mapper(CrateClassifierTransformer owner, DataViewSchema schema) : base(schema)
        {
            this.owner = owner;
            image = ImageColumn.Find(schema, owner.Settings.ImageColumnName, owner.Settings.ImageHeight, owner.Settings.ImageWidth);
        }

        public override IReadOnlyList<DataViewSchema.Column> InputColumns => [image.Column];

        public override int BatchSize => owner.Settings.BatchSize;

        public override void AddOutputColumns(DataViewSchema.Builder builder)
        {
            LabelKeyValues labels = owner.Settings.Labels;
            var scoreAnnotations = new DataViewSchema.Annotations.Builder();
            labels.AddSlotNamesTo(scoreAnnotations);
            builder.AddColumn(owner.Settings.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, labels.Count), scoreAnnotations.ToAnnotations());
            var keyAnnotations = new DataViewSchema.Annotations.Builder();
            labels.AddTo(keyAnnotations);
            builder.AddColumn(owner.Settings.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), labels.Count), keyAnnotations.ToAnnotations());
        }

        public override Func<ImagePixels> CreateInputReader(DataViewRow row) => image.CreateReader(row);

        public override IReadOnlyList<float[]> Run(IReadOnlyList<ImagePixels> batch)
        {
            if (batch.Count == 0) return [];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            CrateClassifierSettings settings = owner.Settings;
            Tensor images = settings.Normalization.ToBatch(batch, settings.ImageHeight, settings.ImageWidth, owner.device);
            float[] probabilities = owner.Model.forward(images).softmax(-1).cpu().data<float>().ToArray();
            int classes = settings.Labels.Count;
            return Enumerable.Range(0, batch.Count).Select(i => probabilities.AsSpan(i * classes, classes).ToArray()).ToArray();
        }

        public override Delegate CreateOutputGetter(int outputIndex, Func<float[]> currentResult) => outputIndex switch
        {
            0 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                float[] scores = currentResult();
                value = new VBuffer<float>(scores.Length, (float[])scores.Clone());
            }),
            _ => (ValueGetter<uint>)((ref uint value) =>
            {
                float[] scores = currentResult();
                int best = 0;
                for (int c = 1; c < scores.Length; c++) if (scores[c] > scores[best]) best = c;
                value = (uint)best + 1; // keys are 1-based; 0 is the missing value
            }),
        };
    }
}
