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
public sealed class CratePatchEmbeddingTransformer : CrateReadoutTransformer<CratePatchEmbeddingOptions, float[]>, ICratePersistable
{
    /// <summary>The annotation kind that records a column's patch grid as [h, w].</summary>
    public const string PatchGridAnnotation = "PatchGrid";

    /// <summary>Creates the transform over <paramref name="model"/>, which stays as it is (see <see cref="CrateReadoutOptions.Device"/>).</summary>
    public CratePatchEmbeddingTransformer(CrateModel model, CratePatchEmbeddingOptions options)
        : this(NetworkLease.Borrow(model), model.Architecture, options)
    {
    }

    internal CratePatchEmbeddingTransformer(NetworkLease? network, CrateArchitecture architecture, CratePatchEmbeddingOptions options)
        : base(network, architecture, options)
    {
    }

    internal override IEnumerable<OutputColumn<float[]>> DeclareOutputs() =>
    [
        OutputColumn<float[]>.Vector(Options.OutputColumnName,
            new VectorDataViewType(NumberDataViewType.Single, GridHeight * GridWidth, Architecture.EmbeddingDim), r => r,
            GridAnnotations(GridHeight, GridWidth)),
    ];

    /// <summary>Annotations holding a patch grid [h, w] under <see cref="PatchGridAnnotation"/>.</summary>
    public static DataViewSchema.Annotations GridAnnotations(int gridHeight, int gridWidth)
    {
        var annotations = new DataViewSchema.Annotations.Builder();
        int[] grid = [gridHeight, gridWidth];
        annotations.Add(PatchGridAnnotation, new VectorDataViewType(NumberDataViewType.Int32, 2),
            (ref VBuffer<int> value) => value = new VBuffer<int>(2, (int[])grid.Clone()));
        return annotations.ToAnnotations();
    }

    internal override IReadOnlyList<float[]> Compute(Tensor images, IReadOnlyList<ImagePixels> originals) =>
        SplitRows(Model.EmbedPatches(images));

    /// <summary>Reads a transform written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CratePatchEmbeddingOptions options) = reader.ReadNetworkAndOptions<CratePatchEmbeddingOptions>();
        return new CratePatchEmbeddingTransformer(network, network.Model.Architecture, options);
    }
}
