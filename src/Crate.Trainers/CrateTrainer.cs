using System.Diagnostics;
using Crate.Trainers.Augmentation;
using Crate.Trainers.Optimization;
using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Image;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// Trains a CRATE classifier (eq. 9: softmax cross-entropy on the [CLS] token) on labelled images and returns a
/// <see cref="CrateClassifierTransformer"/>. Created by <c>mlContext.MulticlassClassification.Trainers.Crate(options)</c>
/// or <c>Crate(labelColumnName, featureColumnName)</c>. An ML.NET trainer estimator: the image column is its feature
/// column, and the fitted classifier's <see cref="CrateNetworkTransformer{TOptions,TResult}.Model"/> is the network.
/// </summary>
public sealed class CrateTrainer : ITrainerEstimator<CrateClassifierTransformer, CrateModel>
{
    private readonly IHost host;
    private readonly CrateTrainerOptions options;

    internal CrateTrainer(IHostEnvironment environment, CrateTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        host = environment.Register(nameof(CrateTrainer));
    }

    /// <summary>
    /// What the trainer needs: no normalisation (it normalises images itself) and no calibration (its scores are softmax
    /// probabilities); no caching (it streams and decodes the images it needs, and a cache would hold them all); its
    /// validation set is an option (<see cref="CrateTrainerOptions.ValidationSet"/>), not ML.NET's validation argument.
    /// </summary>
    public TrainerInfo Info { get; } = MLNetInternals.TrainerInfo(normalization: false, calibration: false, caching: false,
        supportsValidation: false, supportsIncrementalTraining: false, supportsTest: false);

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaShape.Column label = inputSchema.FirstOrDefault(c => c.Name == options.LabelColumnName);
        if (label.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The input has no label column '{options.LabelColumnName}'.");
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new ArgumentException(
                $"Label column '{options.LabelColumnName}' is {label.ItemType}, not a key: map it with mlContext.Transforms.Conversion.MapValueToKey first.",
                nameof(inputSchema));
        SchemaShape.Column image = inputSchema.FirstOrDefault(c => c.Name == options.ImageColumnName);
        bool isImage = image.ItemType is ImageDataViewType && image.Kind == SchemaShape.Column.VectorKind.Scalar;
        bool isVector = image.ItemType is NumberDataViewType { RawType: var raw } && raw == typeof(float) && image.Kind == SchemaShape.Column.VectorKind.Vector;
        if (image.Name is null || !(isImage || isVector))
            throw new ArgumentException(
                $"Image column '{options.ImageColumnName}' must be an image (MLImage) or a float vector shaped [3, H, W]" +
                (image.Name is null ? ", and the input has no such column." : $"; it is {image.ItemType}."), nameof(inputSchema));

        var scoreAnnotations = new SchemaShape([MLNetInternals.Column("SlotNames", SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)]);
        SchemaShape.Column keyValues = label.Annotations.FirstOrDefault(c => c.Name == "KeyValues");
        var labelAnnotations = new SchemaShape(keyValues.Name is null ? [] : [keyValues]);
        var columns = inputSchema.Where(c => c.Name != options.ScoreColumnName && c.Name != options.PredictedLabelColumnName).ToList();
        columns.Add(MLNetInternals.Column(options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, scoreAnnotations));
        columns.Add(MLNetInternals.Column(options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, labelAnnotations));
        return new SchemaShape(columns);
    }

    /// <inheritdoc />
    public CrateClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        options.Validate();
        using IChannel channel = host.Start("Training");
        (DataViewSchema.Column label, int classCount) = CheckInput(input.Schema, "training data");
        long rows = CountRows(input);
        if (rows == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        long validationRows = 0;
        if (options.ValidationSet is IDataView validation)
        {
            CheckInput(validation.Schema, "validation set");
            validationRows = CountRows(validation);
            if (validationRows == 0) throw new ArgumentException("The validation set has no rows.", nameof(input));
        }
        Device device = ComputeDeviceSelector.Resolve(options.Device, out string reason);
        Log(channel, $"Device {device}: {reason}");

        CrateModel model = CreateModel(classCount, channel).to(device);
        try
        {
            // The run frees its optimizer state, bfloat16 copy and best weights however it ends.
            using var run = new TrainingRun(options, model, classCount, rows, validationRows, device, msg => Log(channel, msg))
            {
                CheckAlive = () => MLNetInternals.CheckAlive(host),
            };
            run.Train(input);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();

        var settings = new CrateClassifierSettings
        {
            ImageColumnName = options.ImageColumnName,
            ScoreColumnName = options.ScoreColumnName,
            PredictedLabelColumnName = options.PredictedLabelColumnName,
            ImageHeight = options.ImageHeight,
            ImageWidth = options.ImageWidth,
            Normalization = options.Normalization,
            BatchSize = options.InferenceBatchSize,
            Device = options.Device,
            Labels = LabelKeyValues.Of(label, classCount),
        };
        // The classifier owns the trained network: disposing it (or the pipeline holding it) frees the network.
        using var trained = NetworkLease.Own(model);
        var classifier = new CrateClassifierTransformer(trained, settings) { TrainedOnType = input.Schema[options.ImageColumnName].Type };
        classifier.AttachTo(host);
        return classifier;
    }

    private (DataViewSchema.Column Label, int ClassCount) CheckInput(DataViewSchema schema, string what)
    {
        DataViewSchema.Column label = schema.GetColumnOrNull(options.LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), options.LabelColumnName,
                $"The {what} has no label column '{options.LabelColumnName}'.");
        if (label.Type is not KeyDataViewType key || key.RawType != typeof(uint))
            throw new ArgumentException(
                $"Label column '{label.Name}' of the {what} is {label.Type}, not a key: map it with mlContext.Transforms.Conversion.MapValueToKey first.",
                nameof(schema));
        if (key.Count < 2)
            throw new ArgumentException($"Label column '{label.Name}' has {key.Count} class; a classifier needs at least two.", nameof(schema));
        if (key.Count > int.MaxValue) throw new ArgumentException($"Label column '{label.Name}' has too many classes ({key.Count}).", nameof(schema));
        ImageColumn.Find(schema, options.ImageColumnName, options.ImageHeight, options.ImageWidth);
        return (label, (int)key.Count);
    }

    private static long CountRows(IDataView data)
    {
        if (data.GetRowCount() is long known) return known;
        long count = 0;
        using DataViewRowCursor cursor = data.GetRowCursor([]);
        while (cursor.MoveNext()) count++;
        return count;
    }

    private CrateModel CreateModel(int classCount, IChannel channel)
    {
        // The initial weights come from a generator of this training's own: the process-wide generator is neither
        // read nor advanced, so trainings (and read-outs) running side by side do not change each other's results.
        using var generator = new Generator((ulong)options.Seed);
        CrateArchitecture wanted = options.ToArchitecture(classCount);
        if (options.InitialWeightsPath is not string path)
        {
            var fresh = new CrateModel(wanted, generator);
            NetworkInitialization.Apply(fresh, options.Initialization, generator);
            return fresh;
        }
        CrateModel loaded = CrateNetworkFile.Load(path, new CheckpointImportOptions
        {
            Heads = options.InitialWeightsHeads ?? wanted.Heads,
            Strict = true,
        });
        CrateArchitecture found = loaded.Architecture;
        if (found.EmbeddingDim != wanted.EmbeddingDim || found.Depth != wanted.Depth || found.Heads != wanted.Heads
            || found.HeadDim != wanted.HeadDim || found.PatchSize != wanted.PatchSize || found.Variant != wanted.Variant
            || found.Pooling != wanted.Pooling)
            throw new InvalidDataException(
                $"The initial weights '{path}' hold a {Describe(found)} backbone, but the options ask for {Describe(wanted)}.");
        // The positional embedding is resized to the options' image size, and a head of the new class count replaces
        // the old one when they differ (the fine-tuning setting of the paper's Table 3).
        CrateModel model = new CrateModel(wanted, generator);
        using (no_grad())
        {
            Dictionary<string, Tensor> source = loaded.state_dict();
            foreach ((string name, Tensor target) in model.state_dict())
            {
                if (name == "pos_embedding")
                {
                    // Resize returns its input when the grid is unchanged: only a new tensor is freed here.
                    Tensor resized = PositionalEmbedding.Resize(source[name], found.GridHeight, found.GridWidth, wanted.GridHeight, wanted.GridWidth);
                    target.copy_(resized);
                    if (!ReferenceEquals(resized, source[name])) resized.Dispose();
                }
                else if (!(IsHead(name) && found.ClassCount != classCount))
                    target.copy_(source[name]);
            }
        }
        Log(channel, $"Started from '{path}'" + (found.ClassCount != classCount ? $"; new head of {classCount} classes." : "."));
        loaded.Dispose();
        return model;
    }

    internal static bool IsHead(string parameterName) => parameterName.StartsWith("head.", StringComparison.Ordinal);

    private static string Describe(CrateArchitecture a) =>
        $"{a.Variant} d {a.EmbeddingDim}, depth {a.Depth}, {a.Heads} heads of {a.HeadDim}, patch {a.PatchSize}, {a.Pooling} pooling";

    private static void Log(IChannel channel, string message) => channel.Info(MessageSensitivity.None, message);
}
