using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Crate.Transforms;

/// <summary>
/// Crate.MLNet's read-outs of a trained CRATE (or ViT) on <c>mlContext.Transforms</c>. Each composes after image
/// loading, runs each batch of images through the network once, and outputs typed columns. The network comes from
/// a <see cref="CrateNetworkSource"/>: a live <see cref="CrateModel"/> (implicitly), a model file
/// (<see cref="CrateNetworkSource.FromModelFile"/>, or the <c>modelFile</c> overloads), an authors' checkpoint
/// (<see cref="CrateNetworkSource.FromCheckpoint"/>) or a fitted classifier or pipeline
/// (<see cref="CrateNetworkSource.FromFittedModel"/>). The network given is never changed; the options' device and
/// precision apply to the read-out's own copy when they differ from the network's. Fitted read-outs are
/// <see cref="IDisposable"/>.
/// </summary>
/// <remarks>
/// Overloads with <c>outputColumnName</c> and <c>inputColumnName</c> take the column names in ImageAnalytics' order
/// (for read-outs with several outputs, <c>outputColumnName</c> names the main one: the maps, the mask, the RGB map, the
/// tokens, the object masks). A null <c>inputColumnName</c> keeps the options' <c>InputColumnName</c> ("Image" by
/// default, the column LoadImages and the readers write). A name given as an argument replaces the options' name only
/// where the options leave it at its default or give the same name; an argument that differs from a name the options
/// set is an <see cref="ArgumentException"/> naming both, never a silent choice.
/// </remarks>
public static class CrateTransformsCatalog
{
    /// <summary>Image → patch tokens [N, d], the f⁰ operator.</summary>
    public static CrateReadoutEstimator<CratePatchEmbeddingTransformer> CratePatchEmbedding(this TransformsCatalog catalog,
        CrateNetworkSource network, CratePatchEmbeddingOptions? options = null) =>
        Build(catalog, network, options ?? new CratePatchEmbeddingOptions(),
            (lease, architecture, o) => new CratePatchEmbeddingTransformer(lease, architecture, o));

    /// <summary>Image column <paramref name="inputColumnName"/> → patch tokens in <paramref name="outputColumnName"/>.</summary>
    public static CrateReadoutEstimator<CratePatchEmbeddingTransformer> CratePatchEmbedding(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, CrateNetworkSource network, CratePatchEmbeddingOptions? options = null) =>
        catalog.CratePatchEmbedding(network, Named(options, outputColumnName, inputColumnName, o => o.OutputColumnName, nameof(CratePatchEmbeddingOptions.OutputColumnName),
            (o, output, input) => o with { OutputColumnName = output, InputColumnName = input }));

    /// <summary>As <see cref="CratePatchEmbedding(TransformsCatalog, string, string?, CrateNetworkSource, CratePatchEmbeddingOptions?)"/>, in ML.NET's order:
    /// the input column last and optional (null: the options' <c>InputColumnName</c>, "Image" by default).</summary>
    public static CrateReadoutEstimator<CratePatchEmbeddingTransformer> CratePatchEmbedding(this TransformsCatalog catalog,
        string outputColumnName, CrateNetworkSource network, string? inputColumnName = null, CratePatchEmbeddingOptions? options = null) =>
        catalog.CratePatchEmbedding(outputColumnName, inputColumnName, network, options);

    /// <summary>Image column <paramref name="inputColumnName"/> → patch tokens, with the network read from a model file.</summary>
    public static CrateReadoutEstimator<CratePatchEmbeddingTransformer> CratePatchEmbedding(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, string modelFile, CratePatchEmbeddingOptions? options = null) =>
        catalog.CratePatchEmbedding(outputColumnName, inputColumnName, CrateNetworkSource.FromModelFile(modelFile), options);

    /// <summary>Image → [CLS] attention maps [layers, heads, h, w] (eq. 10).</summary>
    public static CrateReadoutEstimator<CrateAttentionTransformer> CrateAttention(this TransformsCatalog catalog,
        CrateNetworkSource network, CrateAttentionOptions? options = null) =>
        Build(catalog, network, options ?? new CrateAttentionOptions(),
            (lease, architecture, o) => new CrateAttentionTransformer(lease, architecture, o));

    /// <summary>Image column <paramref name="inputColumnName"/> → [CLS] attention maps in <paramref name="outputColumnName"/>.</summary>
    public static CrateReadoutEstimator<CrateAttentionTransformer> CrateAttention(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, CrateNetworkSource network, CrateAttentionOptions? options = null) =>
        catalog.CrateAttention(network, Named(options, outputColumnName, inputColumnName, o => o.OutputColumnName, nameof(CrateAttentionOptions.OutputColumnName),
            (o, output, input) => o with { OutputColumnName = output, InputColumnName = input }));

    /// <summary>As <see cref="CrateAttention(TransformsCatalog, string, string?, CrateNetworkSource, CrateAttentionOptions?)"/>, in ML.NET's order:
    /// the input column last and optional (null: the options' <c>InputColumnName</c>, "Image" by default).</summary>
    public static CrateReadoutEstimator<CrateAttentionTransformer> CrateAttention(this TransformsCatalog catalog,
        string outputColumnName, CrateNetworkSource network, string? inputColumnName = null, CrateAttentionOptions? options = null) =>
        catalog.CrateAttention(outputColumnName, inputColumnName, network, options);

    /// <summary>Image column <paramref name="inputColumnName"/> → [CLS] attention maps, with the network read from a model file.</summary>
    public static CrateReadoutEstimator<CrateAttentionTransformer> CrateAttention(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, string modelFile, CrateAttentionOptions? options = null) =>
        catalog.CrateAttention(outputColumnName, inputColumnName, CrateNetworkSource.FromModelFile(modelFile), options);

    /// <summary>Image → coarse segmentation masks from [CLS] attention (Appendix B.3); fitting calibrates the heads when asked.</summary>
    public static CrateReadoutEstimator<CrateSegmentTransformer> CrateSegment(this TransformsCatalog catalog,
        CrateNetworkSource network, CrateSegmentOptions? options = null)
    {
        options ??= new CrateSegmentOptions();
        return Build(catalog, network, options,
            (lease, architecture, o) => new CrateSegmentTransformer(lease, architecture, o, CrateSegmentTransformer.SchemaHeads(architecture, o)),
            CrateSegmentTransformer.Fit);
    }

    /// <summary>Image column <paramref name="inputColumnName"/> → the merged mask in <paramref name="outputColumnName"/>.</summary>
    public static CrateReadoutEstimator<CrateSegmentTransformer> CrateSegment(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, CrateNetworkSource network, CrateSegmentOptions? options = null) =>
        catalog.CrateSegment(network, Named(options, outputColumnName, inputColumnName, o => o.OutputColumnName, nameof(CrateSegmentOptions.OutputColumnName),
            (o, output, input) => o with { OutputColumnName = output, InputColumnName = input }));

    /// <summary>As <see cref="CrateSegment(TransformsCatalog, string, string?, CrateNetworkSource, CrateSegmentOptions?)"/>, in ML.NET's order:
    /// the input column last and optional (null: the options' <c>InputColumnName</c>, "Image" by default).</summary>
    public static CrateReadoutEstimator<CrateSegmentTransformer> CrateSegment(this TransformsCatalog catalog,
        string outputColumnName, CrateNetworkSource network, string? inputColumnName = null, CrateSegmentOptions? options = null) =>
        catalog.CrateSegment(outputColumnName, inputColumnName, network, options);

    /// <summary>Image column <paramref name="inputColumnName"/> → the merged mask, with the network read from a model file.</summary>
    public static CrateReadoutEstimator<CrateSegmentTransformer> CrateSegment(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, string modelFile, CrateSegmentOptions? options = null) =>
        catalog.CrateSegment(outputColumnName, inputColumnName, CrateNetworkSource.FromModelFile(modelFile), options);

    /// <summary>Image → PCA RGB map [3, h, w] and foreground mask [h, w] (Appendix B.2), with the basis fitted on the data.</summary>
    public static CrateReadoutEstimator<CratePcaFeaturesTransformer> CratePcaFeatures(this TransformsCatalog catalog,
        CrateNetworkSource network, CratePcaFeaturesOptions? options = null) =>
        Build(catalog, network, options ?? new CratePcaFeaturesOptions(),
            (lease, architecture, o) => new CratePcaFeaturesTransformer(lease, architecture, o, PcaBasis.Unfitted(architecture.InnerDim)),
            CratePcaFeaturesTransformer.Fit);

    /// <summary>Image column <paramref name="inputColumnName"/> → the PCA RGB map in <paramref name="outputColumnName"/>.</summary>
    public static CrateReadoutEstimator<CratePcaFeaturesTransformer> CratePcaFeatures(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, CrateNetworkSource network, CratePcaFeaturesOptions? options = null) =>
        catalog.CratePcaFeatures(network, Named(options, outputColumnName, inputColumnName, o => o.OutputColumnName, nameof(CratePcaFeaturesOptions.OutputColumnName),
            (o, output, input) => o with { OutputColumnName = output, InputColumnName = input }));

    /// <summary>As <see cref="CratePcaFeatures(TransformsCatalog, string, string?, CrateNetworkSource, CratePcaFeaturesOptions?)"/>, in ML.NET's order:
    /// the input column last and optional (null: the options' <c>InputColumnName</c>, "Image" by default).</summary>
    public static CrateReadoutEstimator<CratePcaFeaturesTransformer> CratePcaFeatures(this TransformsCatalog catalog,
        string outputColumnName, CrateNetworkSource network, string? inputColumnName = null, CratePcaFeaturesOptions? options = null) =>
        catalog.CratePcaFeatures(outputColumnName, inputColumnName, network, options);

    /// <summary>Image column <paramref name="inputColumnName"/> → the PCA RGB map, with the network read from a model file.</summary>
    public static CrateReadoutEstimator<CratePcaFeaturesTransformer> CratePcaFeatures(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, string modelFile, CratePcaFeaturesOptions? options = null) =>
        catalog.CratePcaFeatures(outputColumnName, inputColumnName, CrateNetworkSource.FromModelFile(modelFile), options);

    /// <summary>Image → up to n objects with masks, boxes and scores by MaskCut on the head features (Appendix B.4), in
    /// ML.NET's object-detection columns (see <see cref="CrateMaskCutOptions"/>).</summary>
    public static CrateReadoutEstimator<CrateMaskCutTransformer> CrateMaskCut(this TransformsCatalog catalog,
        CrateNetworkSource network, CrateMaskCutOptions? options = null) =>
        Build(catalog, network, options ?? new CrateMaskCutOptions(),
            (lease, architecture, o) => new CrateMaskCutTransformer(lease, architecture, o));

    /// <summary>Image column <paramref name="inputColumnName"/> → object masks in <paramref name="outputColumnName"/>, with
    /// the count, mask shape, boxes, scores and labels in the options' columns.</summary>
    public static CrateReadoutEstimator<CrateMaskCutTransformer> CrateMaskCut(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, CrateNetworkSource network, CrateMaskCutOptions? options = null) =>
        catalog.CrateMaskCut(network, Named(options, outputColumnName, inputColumnName, o => o.MasksColumnName, nameof(CrateMaskCutOptions.MasksColumnName),
            (o, output, input) => o with { MasksColumnName = output, InputColumnName = input }));

    /// <summary>As <see cref="CrateMaskCut(TransformsCatalog, string, string?, CrateNetworkSource, CrateMaskCutOptions?)"/>, in ML.NET's order:
    /// the input column last and optional (null: the options' <c>InputColumnName</c>, "Image" by default).</summary>
    public static CrateReadoutEstimator<CrateMaskCutTransformer> CrateMaskCut(this TransformsCatalog catalog,
        string outputColumnName, CrateNetworkSource network, string? inputColumnName = null, CrateMaskCutOptions? options = null) =>
        catalog.CrateMaskCut(outputColumnName, inputColumnName, network, options);

    /// <summary>Image column <paramref name="inputColumnName"/> → object masks, with the network read from a model file.</summary>
    public static CrateReadoutEstimator<CrateMaskCutTransformer> CrateMaskCut(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName, string modelFile, CrateMaskCutOptions? options = null) =>
        catalog.CrateMaskCut(outputColumnName, inputColumnName, CrateNetworkSource.FromModelFile(modelFile), options);

    /// <summary>
    /// The options with the column names given as arguments (see the remarks on the class): <paramref name="inputColumnName"/>
    /// null keeps the options' input; a name replaces the options' only where they hold the default or the same name.
    /// </summary>
    private static TOptions Named<TOptions>(TOptions? options, string outputColumnName, string? inputColumnName,
        Func<TOptions, string> output, string outputOption, Func<TOptions, string, string, TOptions> rename)
        where TOptions : CrateReadoutOptions, new()
    {
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        options ??= new TOptions();
        var defaults = new TOptions();
        string outputName = Named(outputColumnName, output(options), output(defaults), nameof(outputColumnName), outputOption);
        string inputName = inputColumnName is null
            ? options.InputColumnName
            : Named(inputColumnName, options.InputColumnName, defaults.InputColumnName, nameof(inputColumnName), nameof(CrateReadoutOptions.InputColumnName));
        return rename(options, outputName, inputName);
    }

    private static string Named(string argument, string inOptions, string byDefault, string parameter, string option) =>
        inOptions == byDefault || inOptions == argument
            ? argument
            : throw new ArgumentException(
                $"The argument {parameter} is '{argument}' but the options' {option} is '{inOptions}'. Name the column in one place, or give both the same name.",
                parameter);

    /// <summary>
    /// The estimator of a read-out: <paramref name="create"/> builds the transformer over a network lease (null: one
    /// that only describes its schema, built here so that bad options fail at once); <paramref name="fit"/> builds the
    /// fitted one from the data when the read-out learns something.
    /// </summary>
    private static CrateReadoutEstimator<TTransformer> Build<TTransformer, TOptions>(TransformsCatalog catalog, CrateNetworkSource network,
        TOptions options, Func<NetworkLease?, CrateArchitecture, TOptions, TTransformer> create,
        Func<NetworkLease, TOptions, IDataView, IHostEnvironment, TTransformer>? fit = null)
        where TTransformer : class, ITransformer, INetworkOwner
        where TOptions : CrateReadoutOptions
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        IHostEnvironment environment = MLNetInternals.EnvironmentOf(catalog);
        CrateArchitecture architecture = network.Architecture;
        TTransformer prototype = create(null, architecture, options);
        fit ??= (lease, o, _, _) => create(lease, architecture, o);
        return new CrateReadoutEstimator<TTransformer>(options.InputColumnName,
            prototype.AddOutputColumns,
            data =>
            {
                using NetworkLease lease = network.Open();
                TTransformer fitted = fit(lease, options, data, environment);
                fitted.AttachTo(environment);
                return fitted;
            });
    }
}
