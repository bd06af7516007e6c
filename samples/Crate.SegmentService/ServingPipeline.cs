using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Crate.Samples;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.SegmentService;

/// <summary>
/// Makes the pipeline file the service serves: a fitted CRATE classifier followed by CrateMaskCut on the same network
/// (<see cref="CrateNetworkSource.FromFittedModel"/>), saved by <see cref="CratePipelineFile"/> with an input of one
/// image column, so that a PredictionEngine fed an <see cref="ImageInput"/> runs both.
/// </summary>
public static class ServingPipeline
{
    /// <summary>
    /// Saves the classifier found in <paramref name="fittedModel"/> (a <see cref="CrateClassifierTransformer"/>, or a
    /// fitted or loaded pipeline holding one; other transforms of a training pipeline, such as its label mapping,
    /// are left out) and MaskCut on its network to <paramref name="path"/>. MaskCut reads the classifier's image
    /// column with the classifier's normalisation. The given model stays usable and stays the caller's.
    /// </summary>
    /// <param name="context">The ML.NET context.</param>
    /// <param name="fittedModel">The fitted classifier or a pipeline holding exactly one.</param>
    /// <param name="maskCut">MaskCut's options (input size, number of objects, layer); its column names must stay the
    /// defaults, which the service reads. Null for CutLER's settings.</param>
    /// <param name="path">The pipeline file to write.</param>
    /// <exception cref="ArgumentException">The model holds no classifier, or several.</exception>
    public static void Save(MLContext context, ITransformer fittedModel, CrateMaskCutOptions? maskCut, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(fittedModel);
        CrateClassifierTransformer[] classifiers = PipelineTransformers.Flatten(fittedModel).OfType<CrateClassifierTransformer>().ToArray();
        if (classifiers.Length != 1)
            throw new ArgumentException(
                $"The model holds {classifiers.Length} CRATE classifiers (CrateClassifierTransformer); the service serves a pipeline built on exactly one.",
                nameof(fittedModel));
        CrateClassifierTransformer classifier = classifiers[0];
        string imageColumn = classifier.Settings.ImageColumnName;
        IDataView input = context.Data.LoadFromEnumerable(Array.Empty<ImageInput>(), InputDefinition(imageColumn));
        CrateMaskCutOptions options = (maskCut ?? new CrateMaskCutOptions()) with
        {
            InputColumnName = imageColumn, Normalization = classifier.Settings.Normalization,
        };
        using CrateMaskCutTransformer cut = context.Transforms.CrateMaskCut(CrateNetworkSource.FromFittedModel(classifier), options).Fit(input);
        // Not disposed: the classifier stays the caller's; the MaskCut transformer is disposed above.
        var pipeline = new TransformerChain<ITransformer>(classifier, cut);
        CratePipelineFile.Save(context, pipeline, RecordedInput(imageColumn), path);
    }

    /// <summary>
    /// Lets ML.NET map an MLImage member without an attribute to an image column of unknown size, which is what
    /// serving needs (uploads come in every size). <c>[ImageType]</c> cannot say so: its parameterless form throws in
    /// ML.NET 5.0.1 (it asks for a 0×0 image type), and a sized one makes a row type that accepts only that size.
    /// </summary>
    static ServingPipeline() => DataViewTypeManager.Register(new ImageDataViewType(), typeof(MLImage));

    /// <summary><see cref="ImageInput"/>'s schema: its image column, of any size, named <paramref name="imageColumn"/>.</summary>
    public static SchemaDefinition InputDefinition(string imageColumn)
    {
        ArgumentException.ThrowIfNullOrEmpty(imageColumn);
        SchemaDefinition definition = SchemaDefinition.Create(typeof(ImageInput));
        definition[nameof(ImageInput.Image)].ColumnName = imageColumn;
        return definition;
    }

    /// <summary>
    /// The input schema the file records: the image column and a text column "Name" (the image's file name, as
    /// LoadImages pipelines have). ML.NET's schema saver drops image columns and refuses a schema left with no column
    /// ("No valid columns to save"), so an image column alone cannot be recorded; the service reads none of it.
    /// </summary>
    private static DataViewSchema RecordedInput(string imageColumn)
    {
        var schema = new DataViewSchema.Builder();
        schema.AddColumn("Name", TextDataViewType.Instance);
        schema.AddColumn(imageColumn, new ImageDataViewType());
        return schema.ToSchema();
    }
}

/// <summary>
/// The model trained when none is configured: a small CRATE (d 64, 4 layers of 4 heads, patch 8, the Quickstart's)
/// classifying the embedded shapes dataset's 32×32 images, followed by MaskCut on its second layer at
/// <see cref="DefaultModelOptions.MaskCutImageSide"/>. Training is deterministic (private generators), so a model
/// trained once for some settings can be kept and reused (<see cref="CachePath"/>).
/// </summary>
public static class DefaultModel
{
    /// <summary>The default network's patch size.</summary>
    public const int PatchSize = 8;

    /// <summary>The default network's layers (the samples' recipe, <see cref="SmallCrate"/>).</summary>
    public const int Depth = 4;

    /// <summary>The default network's training image side.</summary>
    public const int ImageSide = 32;

    /// <summary>Where the model trained with <paramref name="options"/> is kept between starts; null when caching is off.
    /// The name holds every setting and the library's version, so another recipe never reads a stale file.</summary>
    public static string? CachePath(DefaultModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.CacheDirectory)) return null;
        CrateMaskCutOptions maskCut = MaskCut(options);
        string recipe = $"{Settings(Recipe(options))}|{Settings(Dataset(options))}|{Settings(maskCut)}|{Settings(maskCut.Cut)}|" +
            typeof(CratePipelineFile).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(recipe)))[..16];
        return Path.Combine(Path.GetFullPath(options.CacheDirectory), $"default-model-{hash}.zip");
    }

    /// <summary>Trains the default model and writes the serving pipeline to <paramref name="path"/>.</summary>
    /// <returns>The classifier's accuracy on 200 held-out images of the embedded dataset.</returns>
    public static double Train(MLContext context, DefaultModelOptions options, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ShapesDatasetOptions data = Dataset(options);
        IDataView training = ShapesDataset.LoadDataView(context, data);
        using var fitted = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(Recipe(options)))
            .Fit(training);
        IDataView heldOut = ShapesDataset.LoadDataView(context, data with { Count = 200, Seed = options.Seed + 2 });
        double accuracy = context.MulticlassClassification.Evaluate(fitted.Transform(heldOut)).MicroAccuracy;
        ServingPipeline.Save(context, fitted, MaskCut(options), path);
        return accuracy;
    }

    /// <summary>The scalar settings (numbers, enums, strings, tuples) of an options object, by name.</summary>
    private static string Settings(object options) => string.Join(";", options.GetType().GetProperties()
        .Where(p => p.GetIndexParameters().Length == 0 && (p.PropertyType.IsValueType || p.PropertyType == typeof(string)))
        .OrderBy(p => p.Name, StringComparer.Ordinal)
        .Select(p => FormattableString.Invariant($"{p.Name}={p.GetValue(options)}")));

    /// <summary>
    /// MaskCut on <see cref="DefaultModelOptions.MaskCutLayer"/>, by default the second of the four layers, n = 3 and τ = 0.15 as in the paper. Measured on 12 held-out 64×64
    /// shapes images with the default network (mean over images of the best IoU of an object with the true mask, at
    /// a 96×96 input): layer 1 0.49, layer 2 0.39, layer 3 (the last, the paper's choice for CRATE-B) 0.26 — this
    /// small network, trained for minutes, separates object from background best before its last layers.
    /// </summary>
    private static CrateMaskCutOptions MaskCut(DefaultModelOptions options) =>
        new() { ImageHeight = options.MaskCutImageSide, ImageWidth = options.MaskCutImageSide, Layer = options.MaskCutLayer };

    private static ShapesDatasetOptions Dataset(DefaultModelOptions options) =>
        new() { Count = options.TrainingImages, Seed = options.Seed + 1, ImageHeight = ImageSide, ImageWidth = ImageSide };

    /// <summary>The samples' recipe (<see cref="SmallCrate"/>, the Quickstart's), with this service's seed.</summary>
    private static CrateTrainerOptions Recipe(DefaultModelOptions options)
    {
        CrateTrainerOptions recipe = SmallCrate.Options(options.Epochs, PatchSize, ComputeDevice.Auto);
        recipe.Seed = options.Seed;
        return recipe;
    }
}
