using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
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
/// values) to each row, running rows through the network in batches. <see cref="CrateNetworkTransformer{TOptions,TResult}.Model"/>
/// is the trained network; give the classifier (or a pipeline holding it) to a read-out with
/// <see cref="CrateNetworkSource.FromFittedModel"/>. It is <see cref="IDisposable"/>: a network the trainer made or a
/// pipeline file loaded is freed with its last holder.
/// </summary>
public sealed class CrateClassifierTransformer : CrateNetworkTransformer<CrateClassifierSettings, float[]>, ICratePersistable,
    ISingleFeaturePredictionTransformer<CrateModel>
{
    /// <summary>Wraps a trained network, which stays as it is: when the settings ask for another device, the classifier
    /// runs a copy there.</summary>
    public CrateClassifierTransformer(CrateModel model, CrateClassifierSettings settings)
        : this(NetworkLease.Borrow(model), settings)
    {
    }

    internal CrateClassifierTransformer(NetworkLease network, CrateClassifierSettings settings)
        : base(network, network.Model.Architecture, Checked(network.Model, settings), settings.Device, ComputePrecision.Float32)
    {
    }

    private static CrateClassifierSettings Checked(CrateModel model, CrateClassifierSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Labels.Count != model.Architecture.ClassCount)
            throw new ArgumentException($"The label has {settings.Labels.Count} values but the network has {model.Architecture.ClassCount} classes.", nameof(settings));
        if (settings.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(settings), settings.BatchSize, "BatchSize must be at least 1.");
        return settings;
    }

    /// <summary>Column names, input size, normalisation and labels.</summary>
    public CrateClassifierSettings Settings => Options;

    /// <summary>The image column read: ML.NET's feature column of a predictor.</summary>
    public string FeatureColumnName => Settings.ImageColumnName;

    /// <summary>The type of the image column the trainer read; for a classifier made by its constructor or loaded from a
    /// pipeline file, which do not record it, an MLImage of the network's input size (an MLImage of any size is read).</summary>
    public DataViewType FeatureColumnType => TrainedOnType ?? new ImageDataViewType(ImageHeight, ImageWidth);

    internal DataViewType? TrainedOnType { get; init; }

    /// <inheritdoc />
    public override int ImageHeight => Settings.ImageHeight;

    /// <inheritdoc />
    public override int ImageWidth => Settings.ImageWidth;

    internal override string InputColumnName => Settings.ImageColumnName;

    internal override ImageNormalization Normalization => Settings.Normalization;

    internal override int BatchSize => Settings.BatchSize;

    internal override IEnumerable<OutputColumn<float[]>> DeclareOutputs()
    {
        LabelKeyValues labels = Settings.Labels;
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        labels.AddSlotNamesTo(scoreAnnotations);
        var keyAnnotations = new DataViewSchema.Annotations.Builder();
        labels.AddTo(keyAnnotations);
        return
        [
            OutputColumn<float[]>.Vector(Settings.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, labels.Count), scores => scores,
                scoreAnnotations.ToAnnotations()),
            // Keys are 1-based; 0 is the missing value.
            OutputColumn<float[]>.Scalar(Settings.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), labels.Count),
                scores => (uint)Array.IndexOf(scores, scores.Max()) + 1, keyAnnotations.ToAnnotations()),
        ];
    }

    internal override IReadOnlyList<float[]> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        float[] probabilities = Model.forward(images).softmax(-1).to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        int classes = Settings.Labels.Count;
        return Enumerable.Range(0, originals.Count).Select(i => probabilities.AsSpan(i * classes, classes).ToArray()).ToArray();
    }

    /// <summary>Reads a transformer written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CrateClassifierSettings settings) = reader.ReadNetworkAndOptions<CrateClassifierSettings>();
        return new CrateClassifierTransformer(network, settings);
    }
}
