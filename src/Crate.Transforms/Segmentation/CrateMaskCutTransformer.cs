using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>Options of <see cref="CrateMaskCutTransformer"/>.</summary>
public sealed record CrateMaskCutOptions : CrateReadoutOptions
{
    /// <summary>Instance masks at each image's own size, concatenated (count·H·W booleans). Default "MaskCutMasks".</summary>
    public string MasksColumnName { get; init; } = "MaskCutMasks";

    /// <summary>One box per mask, (x, y, width, height) in the image's pixels, concatenated. Default "MaskCutBoxes".</summary>
    public string BoxesColumnName { get; init; } = "MaskCutBoxes";

    /// <summary>One score in [0, 1] per mask (1 − Ncut/2 of its cut). Default "MaskCutScores".</summary>
    public string ScoresColumnName { get; init; } = "MaskCutScores";

    /// <summary>The layer whose head features (the "keys", U_k*z) are cut; null for the last layer (the spec). Default null.</summary>
    public int? Layer { get; init; }

    /// <summary>The normalized-cut settings: n = 3, τ = 0.15 and CutLER's filters by default.</summary>
    public MaskCutOptions Cut { get; init; } = new();
}

/// <summary>One image's objects: masks at its own size, boxes and scores.</summary>
/// <param name="Masks">count·H·W booleans, mask after mask; masks never overlap.</param>
/// <param name="Boxes">count·4 values (x, y, width, height) in pixels.</param>
/// <param name="Scores">count scores.</param>
public sealed record MaskCutObjects(bool[] Masks, float[] Boxes, float[] Scores);

/// <summary>
/// Image → up to n object masks, boxes and scores by MaskCut (Appendix B.4, CutLER): each image is resized to the
/// network input (by default 60 patches a side, 480 pixels for patch 8, as CutLER), its patch head features of one
/// layer are cut by <see cref="MaskCut"/>, and the masks are mapped back to the image's own size.
/// </summary>
public sealed class CrateMaskCutTransformer : CrateReadoutTransformer<MaskCutObjects>, ICratePersistable
{
    private readonly int layer;

    /// <summary>Creates the transform over <paramref name="model"/>.</summary>
    public CrateMaskCutTransformer(CrateModel model, CrateMaskCutOptions options) : base(model, WithCutLerSize(model, options))
    {
        MaskCutOptions = (CrateMaskCutOptions)Options;
        layer = CheckLayer(options.Layer ?? model.Architecture.Depth - 1);
        options.Cut.Validate();
    }

    /// <summary>The options, with the input size filled in.</summary>
    public CrateMaskCutOptions MaskCutOptions { get; }

    private static CrateMaskCutOptions WithCutLerSize(CrateModel model, CrateMaskCutOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        int side = 60 * model.Architecture.PatchSize;
        return options with { ImageHeight = options.ImageHeight ?? side, ImageWidth = options.ImageWidth ?? side };
    }

    /// <inheritdoc />
    public override void AddOutputColumns(DataViewSchema.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddColumn(MaskCutOptions.MasksColumnName, new VectorDataViewType(BooleanDataViewType.Instance));
        builder.AddColumn(MaskCutOptions.BoxesColumnName, new VectorDataViewType(NumberDataViewType.Single));
        builder.AddColumn(MaskCutOptions.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single));
    }

    /// <inheritdoc />
    protected override IReadOnlyList<MaskCutObjects> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        using CrateIntrospection readout = Model.Introspect(images,
            new IntrospectionRequest { Layers = [layer], ClsAttention = false, HeadFeatures = true, Sparsity = false });
        Tensor features = readout.ForLayer(layer).HeadFeatures!;
        var results = new MaskCutObjects[originals.Count];
        for (int i = 0; i < originals.Count; i++)
        {
            using var scope = NewDisposeScope();
            Tensor patches = features[i].narrow(0, 1, features.shape[1] - 1).cpu();
            MaskCutResult cut = MaskCut.Segment(patches, GridHeight, GridWidth, MaskCutOptions.Cut);
            IReadOnlyList<UpsampledMask> masks = cut.Upsample(originals[i].Height, originals[i].Width);
            results[i] = new MaskCutObjects(
                masks.SelectMany(m => m.Mask.Cells.ToArray()).ToArray(),
                masks.SelectMany(m => new float[] { m.Box.X, m.Box.Y, m.Box.Width, m.Box.Height }).ToArray(),
                masks.Select(m => (float)cut.Objects[m.Source].Score).ToArray());
        }
        return results;
    }

    /// <inheritdoc />
    protected override Delegate CreateOutputGetter(int outputIndex, Func<MaskCutObjects> currentResult) => outputIndex switch
    {
        0 => VectorGetter(() => currentResult().Masks),
        1 => VectorGetter(() => currentResult().Boxes),
        _ => VectorGetter(() => currentResult().Scores),
    };

    /// <inheritdoc />
    public override void SaveTo(CratePipelineWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNetworkAndOptions(Model, MaskCutOptions);
    }

    /// <summary>Reads a transform written by <see cref="SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (CrateModel network, CrateMaskCutOptions options) = reader.ReadNetworkAndOptions<CrateMaskCutOptions>();
        return new CrateMaskCutTransformer(network, options);
    }
}
