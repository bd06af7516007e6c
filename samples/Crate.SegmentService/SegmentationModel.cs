using System.Diagnostics;
using Crate.Trainers;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.SegmentService;

/// <summary>
/// The served model: the pipeline loaded once from a <see cref="CratePipelineFile"/> (or trained at startup when none is
/// configured) and checked against the columns the endpoints read; a <see cref="PredictionEnginePool{TInput,TOutput}"/>
/// shares it among requests (<see cref="CreateEnginePool"/>). A singleton; disposing it disposes the pipeline's networks.
/// </summary>
public sealed class SegmentationModel : IDisposable
{
    private static readonly (string Name, Func<DataViewType, bool> Fits, string Expected)[] MaskCutColumns =
    [
        ("MaskCutCount", t => t == NumberDataViewType.Int32, "Int32"),
        ("MaskCutMaskHeight", t => t == NumberDataViewType.Int32, "Int32"),
        ("MaskCutMaskWidth", t => t == NumberDataViewType.Int32, "Int32"),
        ("MaskCutMasks", t => t is VectorDataViewType { ItemType: BooleanDataViewType }, "a Boolean vector"),
        ("MaskCutBoxes", t => t is VectorDataViewType { ItemType: var i } && i == NumberDataViewType.Single, "a Single vector"),
        ("MaskCutScores", t => t is VectorDataViewType { ItemType: var i } && i == NumberDataViewType.Single, "a Single vector"),
    ];

    private readonly MLContext context;
    private readonly ITransformer pipeline;
    private readonly SchemaDefinition input;
    private readonly SchemaDefinition output;

    private SegmentationModel(MLContext context, ITransformer pipeline, SchemaDefinition input, SchemaDefinition output, ModelDescription description)
    {
        this.context = context;
        this.pipeline = pipeline;
        this.input = input;
        this.output = output;
        Description = description;
    }

    /// <summary>What is served: classes, input sizes, MaskCut's settings, limits.</summary>
    public ModelDescription Description { get; }

    /// <summary>The class names, in the order of the Score vector.</summary>
    public IReadOnlyList<string> ClassNames => Description.Classes;

    /// <summary>
    /// Loads the configured pipeline file, or trains the default model when <see cref="SegmentationServiceOptions.ModelPath"/>
    /// is empty, and checks that it outputs what the service reads.
    /// </summary>
    /// <exception cref="FileNotFoundException">The configured file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a pipeline the service can serve; the message says why.</exception>
    /// <exception cref="InvalidOperationException">A setting is out of range.</exception>
    public static SegmentationModel Load(SegmentationServiceOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        var context = new MLContext(seed: 0);
        ITransformer pipeline;
        string path, source;
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            (pipeline, path, source) = LoadDefault(context, options.DefaultModel, logger);
        else
        {
            path = Path.GetFullPath(options.ModelPath!);
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"Configuration {SegmentationServiceOptions.Section}:ModelPath is '{options.ModelPath}', but there is no file at '{path}'. " +
                    "Write one with `dotnet run --project samples/Crate.SegmentService -- make-model --output model.zip`, " +
                    "or leave the setting empty to train the default model at startup.", path);
            source = path;
            pipeline = CratePipelineFile.Load(context, path, out _);
        }
        try
        {
            SchemaDefinition input = ServingPipeline.InputDefinition(options.ImageColumnName);
            IReadOnlyList<string> classes = CheckOutputs(context, pipeline, input, options, path);
            ModelDescription description = Describe(pipeline, classes, source, options);
            SchemaDefinition output = SchemaDefinition.Create(typeof(SegmentationRow));
            output[nameof(SegmentationRow.Score)].ColumnName = options.ScoreColumnName;
            logger.LogInformation("Serving {Source}: classes {Classes}; up to {Concurrency} predictions at once.",
                source, string.Join(", ", classes), options.MaxConcurrentPredictions);
            return new SegmentationModel(context, pipeline, input, output, description);
        }
        catch
        {
            (pipeline as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The default model: loaded from the cache when an earlier start trained it with the same settings, otherwise
    /// trained now and written to the cache (or to a temporary file when caching is off).
    /// </summary>
    private static (ITransformer Pipeline, string Path, string Source) LoadDefault(MLContext context, DefaultModelOptions options, ILogger logger)
    {
        string? cached = DefaultModel.CachePath(options);
        if (cached is not null && File.Exists(cached))
        {
            try
            {
                ITransformer loaded = CratePipelineFile.Load(context, cached, out _);
                logger.LogInformation("No {Section}:ModelPath configured: serving the default model trained by an earlier start, {Path}.",
                    SegmentationServiceOptions.Section, cached);
                return (loaded, cached, $"default model ({options.TrainingImages} shapes images, {options.Epochs} epochs), cached at {cached}");
            }
            catch (InvalidDataException e)
            {
                logger.LogWarning("The cached default model {Path} cannot be read ({Problem}); training it again.", cached, e.Message);
            }
        }
        string path = cached ?? Path.Combine(Path.GetTempPath(), $"crate-segment-service-default-{Guid.NewGuid():N}.zip");
        logger.LogInformation(
            "No {Section}:ModelPath configured: training the default model (a small CRATE on {Images} images of the embedded shapes dataset, {Epochs} epochs).",
            SegmentationServiceOptions.Section, options.TrainingImages, options.Epochs);
        var clock = Stopwatch.StartNew();
        if (cached is not null) Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
        double accuracy = DefaultModel.Train(context, options, path);
        logger.LogInformation("Trained the default model in {Seconds:F1} s; held-out accuracy {Accuracy:P1}{Cache}.",
            clock.Elapsed.TotalSeconds, accuracy, cached is null ? "" : $"; cached at {cached} for the next start");
        try
        {
            return (CratePipelineFile.Load(context, path, out _), path,
                $"default model trained at startup on {options.TrainingImages} shapes images ({options.Epochs} epochs, held-out accuracy {accuracy:P1})");
        }
        finally
        {
            if (cached is null) File.Delete(path);
        }
    }

    /// <summary>A pool of PredictionEngines over the pipeline, at most <paramref name="maximumConcurrency"/> predicting at once;
    /// dispose it before this model.</summary>
    public PredictionEnginePool<ImageInput, SegmentationRow> CreateEnginePool(int maximumConcurrency) =>
        new(context, pipeline, maximumConcurrency, input, output);

    /// <summary>Disposes the pipeline and its networks.</summary>
    public void Dispose() => (pipeline as IDisposable)?.Dispose();

    private static IReadOnlyList<string> CheckOutputs(MLContext context, ITransformer pipeline, SchemaDefinition input,
        SegmentationServiceOptions options, string path)
    {
        DataViewSchema inputSchema = context.Data.LoadFromEnumerable(Array.Empty<ImageInput>(), input).Schema;
        DataViewSchema outputs;
        try
        {
            outputs = pipeline.GetOutputSchema(inputSchema);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException(
                $"{path}: the pipeline cannot be fed a single image column '{options.ImageColumnName}' " +
                $"(set {SegmentationServiceOptions.Section}:ImageColumnName to the pipeline's image column): {e.Message}", e);
        }
        string hint = "The service serves a pipeline of a CRATE classifier followed by CrateMaskCut with its default column names; " +
            "`dotnet run --project samples/Crate.SegmentService -- make-model` writes one.";
        DataViewSchema.Column Require(string name, Func<DataViewType, bool> fits, string expected)
        {
            DataViewSchema.Column column = outputs.GetColumnOrNull(name)
                ?? throw new InvalidDataException($"{path}: the pipeline has no output column '{name}'. {hint}");
            if (!fits(column.Type))
                throw new InvalidDataException($"{path}: the pipeline's column '{name}' is {column.Type}, not {expected}. {hint}");
            return column;
        }
        DataViewSchema.Column score = Require(options.ScoreColumnName,
            t => t is VectorDataViewType { ItemType: var i, Size: > 0 } && i == NumberDataViewType.Single, "a Single vector of known size");
        foreach ((string name, Func<DataViewType, bool> fits, string expected) in MaskCutColumns) Require(name, fits, expected);

        int classCount = ((VectorDataViewType)score.Type).Size;
        if (!score.HasSlotNames())
            return Enumerable.Range(0, classCount).Select(k => $"class {k}").ToArray();
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    private static ModelDescription Describe(ITransformer pipeline, IReadOnlyList<string> classes, string source, SegmentationServiceOptions options)
    {
        ITransformer[] parts = PipelineTransformers.Flatten(pipeline).ToArray();
        CrateClassifierTransformer? classifier = parts.OfType<CrateClassifierTransformer>().FirstOrDefault();
        CrateMaskCutTransformer? maskCut = parts.OfType<CrateMaskCutTransformer>().FirstOrDefault();
        int patchSize = (classifier?.Architecture ?? maskCut?.Architecture)?.PatchSize ?? 1;
        return new ModelDescription(
            source,
            classes,
            patchSize,
            classifier is null ? null : new ImageSize(classifier.ImageHeight, classifier.ImageWidth),
            maskCut is null ? null : new MaskCutDescription(new ImageSize(maskCut.ImageHeight, maskCut.ImageWidth),
                maskCut.Options.Cut.MaxObjects, maskCut.Options.Cut.AffinityThreshold, maskCut.Options.Layer ?? maskCut.Architecture.Depth - 1),
            new UploadLimits(options.MaxUploadBytes, options.MaxImagePixels, patchSize, ImageUpload.AcceptedImageTypes),
            options.MaxConcurrentPredictions);
    }
}

/// <summary>What <c>GET /model</c> returns.</summary>
/// <param name="Source">The pipeline file served, or how the default model was trained.</param>
/// <param name="Classes">The class names, in the order of the probabilities.</param>
/// <param name="PatchSize">The network's patch size.</param>
/// <param name="ClassifierInput">The size images are resized to for the classifier.</param>
/// <param name="MaskCut">MaskCut's input size and settings.</param>
/// <param name="Limits">What an upload may be.</param>
/// <param name="MaxConcurrentPredictions">Predictions that run at once.</param>
public sealed record ModelDescription(string Source, IReadOnlyList<string> Classes, int PatchSize, ImageSize? ClassifierInput,
    MaskCutDescription? MaskCut, UploadLimits Limits, int MaxConcurrentPredictions);

/// <summary>An image size in pixels.</summary>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
public sealed record ImageSize(int Height, int Width);

/// <summary>MaskCut's settings as served.</summary>
/// <param name="Input">The size images are resized to before the network.</param>
/// <param name="MaxObjects">n, the most objects per image.</param>
/// <param name="AffinityThreshold">τ.</param>
/// <param name="Layer">The layer whose head features are cut.</param>
public sealed record MaskCutDescription(ImageSize Input, int MaxObjects, double AffinityThreshold, int Layer);

/// <summary>What an upload may be.</summary>
/// <param name="MaxUploadBytes">The largest image file, in bytes.</param>
/// <param name="MaxImagePixels">The most pixels (width·height).</param>
/// <param name="MinImageSide">The smallest width and height: one patch.</param>
/// <param name="ContentTypes">The accepted content types of a raw body or of a multipart file part.</param>
public sealed record UploadLimits(long MaxUploadBytes, long MaxImagePixels, int MinImageSide, IReadOnlyList<string> ContentTypes);
