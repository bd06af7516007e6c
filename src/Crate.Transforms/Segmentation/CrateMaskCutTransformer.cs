using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// Options of <see cref="CrateMaskCutTransformer"/>. The output columns follow ML.NET's object detection
/// (Microsoft.ML.TorchSharp's <c>ObjectDetection</c> trainer): per row, variable-length vectors of boxes
/// (x0, y0, x1, y1 each), scores and key-typed labels, one entry per object; so its <c>EvaluateObjectDetection</c>
/// scores MaskCut's boxes after <c>MapKeyToValue</c> of the labels. The masks come with their count and shape.
/// The default names start with "MaskCut" so that a classifier's Score and PredictedLabel can sit in the same rows.
/// </summary>
public sealed record CrateMaskCutOptions : CrateReadoutOptions
{
    /// <summary>The object masks at each image's own size, object after object: <see cref="ObjectCountColumnName"/>
    /// × <see cref="MaskHeightColumnName"/> × <see cref="MaskWidthColumnName"/> booleans, row-major; masks never
    /// overlap. Default "MaskCutMasks".</summary>
    public string MasksColumnName { get; init; } = "MaskCutMasks";

    /// <summary>The number of objects found, an Int32 (0 to n). Default "MaskCutCount".</summary>
    public string ObjectCountColumnName { get; init; } = "MaskCutCount";

    /// <summary>The masks' height: the image's own height in pixels, an Int32. Default "MaskCutMaskHeight".</summary>
    public string MaskHeightColumnName { get; init; } = "MaskCutMaskHeight";

    /// <summary>The masks' width: the image's own width in pixels, an Int32. Default "MaskCutMaskWidth".</summary>
    public string MaskWidthColumnName { get; init; } = "MaskCutMaskWidth";

    /// <summary>One box per object, (x0, y0, x1, y1) in the image's pixels, concatenated: the first and last column and
    /// row the mask covers, both inclusive, which is how ML.NET's object-detection evaluation reads boxes (its width is
    /// x1 − x0 + 1). Default "MaskCutBoxes".</summary>
    public string BoxesColumnName { get; init; } = "MaskCutBoxes";

    /// <summary>One score in [0, 1] per object (1 − Ncut/2 of its cut). Default "MaskCutScores".</summary>
    public string ScoresColumnName { get; init; } = "MaskCutScores";

    /// <summary>One key per object, all the single class-agnostic category <see cref="CategoryName"/> (the key's value).
    /// Default "MaskCutLabels".</summary>
    public string LabelsColumnName { get; init; } = "MaskCutLabels";

    /// <summary>The name of MaskCut's one category, the key value of every label. Default "object".</summary>
    public string CategoryName { get; init; } = "object";

    /// <summary>The layer whose head features (the "keys", U_k*z) are cut; null for the last layer (the spec). Default null.</summary>
    public int? Layer { get; init; }

    /// <summary>The normalized-cut settings: n = 3, τ = 0.15 and CutLER's filters by default.</summary>
    public MaskCutOptions Cut { get; init; } = new();
}

/// <summary>One image's objects, as the output columns hold them.</summary>
/// <param name="Count">Objects found.</param>
/// <param name="Height">The masks' height (the image's).</param>
/// <param name="Width">The masks' width (the image's).</param>
/// <param name="Masks">Count·Height·Width booleans, mask after mask; masks never overlap.</param>
/// <param name="Boxes">Count·4 values (x0, y0, x1, y1), inclusive pixel indices.</param>
/// <param name="Scores">Count scores.</param>
public sealed record MaskCutObjects(int Count, int Height, int Width, bool[] Masks, float[] Boxes, float[] Scores);

/// <summary>
/// Image → up to n object masks, boxes and scores by MaskCut (Appendix B.4, CutLER): each image is resized to the
/// network input (by default 60 patches a side, 480 pixels for patch 8, as CutLER), its patch head features of one
/// layer are cut by <see cref="MaskCut"/>, and the masks are mapped back to the image's own size. Read the rows
/// with <see cref="MaskCutPrediction"/> to get each object as a mask, a box and a score.
/// </summary>
public sealed class CrateMaskCutTransformer : CrateReadoutTransformer<CrateMaskCutOptions, MaskCutObjects>, ICratePersistable
{
    private readonly int layer;

    /// <summary>Creates the transform over <paramref name="model"/>, which stays as it is (see <see cref="CrateReadoutOptions.Device"/>).</summary>
    public CrateMaskCutTransformer(CrateModel model, CrateMaskCutOptions options)
        : this(NetworkLease.Borrow(model), model.Architecture, options)
    {
    }

    internal CrateMaskCutTransformer(NetworkLease? network, CrateArchitecture architecture, CrateMaskCutOptions options)
        : base(network, architecture, WithCutLerSize(architecture, options))
    {
        layer = CheckLayer(options.Layer ?? architecture.Depth - 1);
        options.Cut.Validate();
        ArgumentException.ThrowIfNullOrEmpty(options.CategoryName);
    }

    private static CrateMaskCutOptions WithCutLerSize(CrateArchitecture architecture, CrateMaskCutOptions options)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(options);
        int side = 60 * architecture.PatchSize;
        return options with { ImageHeight = options.ImageHeight ?? side, ImageWidth = options.ImageWidth ?? side };
    }

    internal override IEnumerable<OutputColumn<MaskCutObjects>> DeclareOutputs()
    {
        var labelValues = new DataViewSchema.Annotations.Builder();
        string category = Options.CategoryName;
        labelValues.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, 1),
            (ref VBuffer<ReadOnlyMemory<char>> values) => values = new VBuffer<ReadOnlyMemory<char>>(1, [category.AsMemory()]));
        return
        [
            OutputColumn<MaskCutObjects>.Scalar(Options.ObjectCountColumnName, NumberDataViewType.Int32, r => r.Count),
            OutputColumn<MaskCutObjects>.Vector(Options.MasksColumnName, new VectorDataViewType(BooleanDataViewType.Instance), r => r.Masks),
            OutputColumn<MaskCutObjects>.Scalar(Options.MaskHeightColumnName, NumberDataViewType.Int32, r => r.Height),
            OutputColumn<MaskCutObjects>.Scalar(Options.MaskWidthColumnName, NumberDataViewType.Int32, r => r.Width),
            OutputColumn<MaskCutObjects>.Vector(Options.BoxesColumnName, new VectorDataViewType(NumberDataViewType.Single), r => r.Boxes),
            OutputColumn<MaskCutObjects>.Vector(Options.ScoresColumnName, new VectorDataViewType(NumberDataViewType.Single), r => r.Scores),
            OutputColumn<MaskCutObjects>.Vector(Options.LabelsColumnName, new VectorDataViewType(new KeyDataViewType(typeof(uint), 1)),
                r => Enumerable.Repeat(1u, r.Count).ToArray(), labelValues.ToAnnotations()),
        ];
    }

    internal override IReadOnlyList<MaskCutObjects> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        using CrateIntrospection readout = Model.Introspect(images,
            new IntrospectionRequest { Layers = [layer], ClsAttention = false, HeadFeatures = true, Sparsity = false });
        Tensor features = readout.ForLayer(layer).HeadFeatures!;
        var results = new MaskCutObjects[originals.Count];
        for (int i = 0; i < originals.Count; i++)
        {
            using var scope = NewDisposeScope();
            Tensor patches = features[i].narrow(0, 1, features.shape[1] - 1).cpu();
            MaskCutResult cut = MaskCut.Segment(patches, GridHeight, GridWidth, Options.Cut);
            int height = originals[i].Height, width = originals[i].Width;
            IReadOnlyList<UpsampledMask> masks = cut.Upsample(height, width);
            results[i] = new MaskCutObjects(masks.Count, height, width,
                masks.SelectMany(m => m.Mask.Cells.ToArray()).ToArray(),
                masks.SelectMany(m => new float[] { m.Box.X, m.Box.Y, m.Box.X + m.Box.Width - 1, m.Box.Y + m.Box.Height - 1 }).ToArray(),
                masks.Select(m => (float)cut.Objects[m.Source].Score).ToArray());
            // The N×N affinity graph and the solver's work are freed here; give the pages back when they were large.
            NativeHeap.ReleaseAfterPass((long)patches.shape[0] * patches.shape[0] * sizeof(float));
        }
        return results;
    }

    /// <summary>Reads a transform written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CrateMaskCutOptions options) = reader.ReadNetworkAndOptions<CrateMaskCutOptions>();
        return new CrateMaskCutTransformer(network, network.Model.Architecture, options);
    }
}
