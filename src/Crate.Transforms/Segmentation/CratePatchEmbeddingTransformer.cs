using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>Options of <see cref="CratePatchEmbeddingTransformer"/>.</summary>
public sealed record CratePatchEmbeddingOptions : CrateReadoutOptions
{
    /// <summary>The output column. Default "PatchTokens".</summary>
    public string OutputColumnName { get; init; } = "PatchTokens";
}

/// <summary>
/// Image → patch tokens, the f⁰ operator (Algorithm 1, line 10) before the [CLS] token and positions: a float
/// vector of shape [N, d] (N = h·w in row-major grid order), whose "PatchGrid" annotation holds [h, w].
/// </summary>
public sealed class CratePatchEmbeddingTransformer : CrateReadoutTransformer<float[]>, ICratePersistable
{
    /// <summary>The annotation kind that records a column's patch grid as [h, w].</summary>
    public const string PatchGridAnnotation = "PatchGrid";

    /// <summary>Creates the transform over <paramref name="model"/>.</summary>
    public CratePatchEmbeddingTransformer(CrateModel model, CratePatchEmbeddingOptions options) : base(model, options)
    {
        PatchOptions = options;
    }

    /// <summary>The options.</summary>
    public CratePatchEmbeddingOptions PatchOptions { get; }

    /// <inheritdoc />
    public override void AddOutputColumns(DataViewSchema.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddColumn(PatchOptions.OutputColumnName,
            new VectorDataViewType(NumberDataViewType.Single, GridHeight * GridWidth, Model.Architecture.EmbeddingDim),
            GridAnnotations(GridHeight, GridWidth));
    }

    /// <summary>Annotations holding a patch grid [h, w] under <see cref="PatchGridAnnotation"/>.</summary>
    public static DataViewSchema.Annotations GridAnnotations(int gridHeight, int gridWidth)
    {
        var annotations = new DataViewSchema.Annotations.Builder();
        int[] grid = [gridHeight, gridWidth];
        annotations.Add(PatchGridAnnotation, new VectorDataViewType(NumberDataViewType.Int32, 2),
            (ref VBuffer<int> value) => value = new VBuffer<int>(2, (int[])grid.Clone()));
        return annotations.ToAnnotations();
    }

    /// <inheritdoc />
    protected override IReadOnlyList<float[]> Compute(Tensor images, IReadOnlyList<ImagePixels> originals) =>
        SplitRows(Model.EmbedPatches(images));

    /// <inheritdoc />
    protected override Delegate CreateOutputGetter(int outputIndex, Func<float[]> currentResult) => VectorGetter(currentResult);

    /// <inheritdoc />
    public override void SaveTo(CratePipelineWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNetworkAndOptions(Model, PatchOptions);
    }

    /// <summary>Reads a transform written by <see cref="SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (CrateModel network, CratePatchEmbeddingOptions options) = reader.ReadNetworkAndOptions<CratePatchEmbeddingOptions>();
        return new CratePatchEmbeddingTransformer(network, options);
    }
}
