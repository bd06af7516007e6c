using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>Where masks live: on the patch grid, or at the network's input size (each patch fills its P × P pixels).</summary>
public enum MaskResolution
{
    /// <summary>h × w, one entry per patch.</summary>
    Grid,

    /// <summary>H × W, the network's input size.</summary>
    Image,
}

/// <summary>Options of <see cref="CrateSegmentTransformer"/>.</summary>
public sealed record CrateSegmentOptions : CrateReadoutOptions
{
    /// <summary>The merged foreground mask column. Default "PredictedMask": the prediction, which the evaluators and
    /// <c>SaveAsPngMasks</c> read by default, beside the readers' ground truth "Mask" (docs/api-tour.md, "Column names").</summary>
    public string OutputColumnName { get; init; } = "PredictedMask";

    /// <summary>The per-head masks column [heads, h, w]; null to leave it out. Default "HeadMasks".</summary>
    public string? HeadMasksColumnName { get; init; } = "HeadMasks";

    /// <summary>The layer whose [CLS] attention is thresholded; null for the penultimate one (Appendix B.1). Default null.</summary>
    public int? Layer { get; init; }

    /// <summary>Heads used; null for all of them, or for the best ones when calibrating. Default null.</summary>
    public IReadOnlyList<int>? Heads { get; init; }

    /// <summary>The thresholding rule. Default <see cref="MaskRule.TopFraction"/>.</summary>
    public MaskRule Rule { get; init; } = MaskRule.TopFraction;

    /// <summary>P: the fraction of entries (or of attention mass) kept. Default 0.6 (Appendix B.3).</summary>
    public double Fraction { get; init; } = 0.6;

    /// <summary>Grid or image resolution for the outputs. Default <see cref="MaskResolution.Grid"/>.</summary>
    public MaskResolution Resolution { get; init; } = MaskResolution.Grid;

    /// <summary>A boolean ground-truth mask column (h·w entries, or H·W at the network's input size). When set, fitting
    /// picks the <see cref="CalibrationHeadCount"/> heads of best mean IoU on the fitting data. Default null.</summary>
    public string? CalibrationMaskColumnName { get; init; }

    /// <summary>How many best heads calibration keeps. Default 1 (the paper's best-matched head, eq. 13).</summary>
    public int CalibrationHeadCount { get; init; } = 1;
}

/// <summary>One image's coarse segmentation.</summary>
/// <param name="Mask">The merged foreground mask.</param>
/// <param name="HeadMasks">Each selected head's mask, concatenated.</param>
public sealed record SegmentMasks(bool[] Mask, bool[] HeadMasks);

/// <summary>
/// Image → coarse segmentation from [CLS] attention (Appendix B.3): each selected head's map (eq. 10) thresholded
/// by the top-P rule (or DINO's cumulative-mass rule); the merged mask applies the same rule to the mean of the
/// selected heads' maps.
/// </summary>
public sealed class CrateSegmentTransformer : CrateReadoutTransformer<CrateSegmentOptions, SegmentMasks>, ICratePersistable
{
    private const string HeadsEntry = "heads.json";
    private readonly int layer;
    private readonly int[] heads;

    /// <summary>Creates the transform with the options' heads (all when null) over <paramref name="model"/>, which stays as it is.</summary>
    public CrateSegmentTransformer(CrateModel model, CrateSegmentOptions options)
        : this(NetworkLease.Borrow(model), model.Architecture, options, options.Heads)
    {
    }

    internal CrateSegmentTransformer(NetworkLease? network, CrateArchitecture architecture, CrateSegmentOptions options, IReadOnlyList<int>? selectedHeads)
        : base(network, architecture, options)
    {
        layer = CheckLayer(options.Layer ?? Math.Max(0, architecture.Depth - 2));
        heads = CheckHeads(selectedHeads);
        if (!(options.Fraction > 0 && options.Fraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.Fraction, "Fraction must be in (0, 1].");
    }

    /// <summary>The layer read.</summary>
    public int Layer => layer;

    /// <summary>The heads whose masks are output and merged (after calibration, the best ones, best first).</summary>
    public IReadOnlyList<int> SelectedHeads => heads;

    /// <summary>The heads a fitted transform of <paramref name="options"/> outputs, as far as the schema needs them: their count.</summary>
    internal static IReadOnlyList<int>? SchemaHeads(CrateArchitecture architecture, CrateSegmentOptions options) =>
        options.CalibrationMaskColumnName is null
            ? options.Heads
            : Enumerable.Range(0, Math.Clamp(options.CalibrationHeadCount, 1, architecture.Heads)).ToArray();

    /// <summary>
    /// Fits the transform: without a calibration column the heads are the options'; with one, every head is scored
    /// by its mean IoU against the ground truth over <paramref name="data"/> and the best are kept.
    /// </summary>
    internal static CrateSegmentTransformer Fit(NetworkLease network, CrateSegmentOptions options, IDataView data, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        CrateArchitecture architecture = network.Model.Architecture;
        if (options.CalibrationMaskColumnName is not string truthColumn) return new CrateSegmentTransformer(network, architecture, options, options.Heads);
        if (options.CalibrationHeadCount < 1 || options.CalibrationHeadCount > architecture.Heads)
            throw new ArgumentOutOfRangeException(nameof(options), options.CalibrationHeadCount,
                $"CalibrationHeadCount must be between 1 and the model's {architecture.Heads} heads.");
        using var all = new CrateSegmentTransformer(network, architecture,
            options with { HeadMasksColumnName = "__CrateHeadMasks", Resolution = MaskResolution.Grid }, null);
        all.AttachTo(environment);
        double[] iou = all.MeanHeadIou(data, truthColumn);
        int[] best = Enumerable.Range(0, iou.Length).OrderByDescending(h => iou[h]).ThenBy(h => h).Take(options.CalibrationHeadCount).ToArray();
        // The fitted transformer shares the placed network of the one that scored the heads.
        return new CrateSegmentTransformer(((INetworkOwner)all).Network, architecture, options, best);
    }

    private double[] MeanHeadIou(IDataView data, string truthColumn)
    {
        DataViewSchema.Column truth = data.Schema.GetColumnOrNull(truthColumn)
            ?? throw new ArgumentOutOfRangeException(nameof(truthColumn), truthColumn, $"The calibration data has no column '{truthColumn}'.");
        int cells = GridHeight * GridWidth, pixels = ImageHeight * ImageWidth;
        if (truth.Type is not VectorDataViewType { ItemType: BooleanDataViewType } vector || (vector.Size != cells && vector.Size != pixels))
            throw new ArgumentException(
                $"Calibration column '{truthColumn}' is {truth.Type}; expected a boolean vector of {cells} (the patch grid) or {pixels} (the network input) entries.",
                nameof(truthColumn));
        IDataView scored = Transform(data);
        using DataViewRowCursor cursor = scored.GetRowCursor([scored.Schema["__CrateHeadMasks"], scored.Schema[truthColumn]]);
        ValueGetter<VBuffer<bool>> getMasks = cursor.GetGetter<VBuffer<bool>>(scored.Schema["__CrateHeadMasks"]);
        ValueGetter<VBuffer<bool>> getTruth = cursor.GetGetter<VBuffer<bool>>(scored.Schema[truthColumn]);
        VBuffer<bool> masks = default, groundTruth = default;
        var sums = new double[heads.Length];
        long images = 0;
        while (cursor.MoveNext())
        {
            getMasks(ref masks);
            getTruth(ref groundTruth);
            bool[] target = groundTruth.Length == cells ? groundTruth.DenseValues().ToArray() : ToGrid(groundTruth.DenseValues().ToArray());
            bool[] all = masks.DenseValues().ToArray();
            for (int h = 0; h < heads.Length; h++)
                sums[h] += BinaryMask.IntersectionOverUnion(all.AsSpan(h * cells, cells), target);
            images++;
        }
        if (images == 0) throw new ArgumentException("The calibration data has no rows.", nameof(data));
        return sums.Select(s => s / images).ToArray();
    }

    /// <summary>A pixel mask at the network's input size → patch mask: a patch is foreground when at least half its pixels are.</summary>
    private bool[] ToGrid(bool[] pixels)
    {
        int p = Architecture.PatchSize;
        var grid = new bool[GridHeight * GridWidth];
        for (int gy = 0; gy < GridHeight; gy++)
            for (int gx = 0; gx < GridWidth; gx++)
            {
                int on = 0;
                for (int y = gy * p; y < (gy + 1) * p; y++)
                    for (int x = gx * p; x < (gx + 1) * p; x++)
                        if (pixels[y * ImageWidth + x]) on++;
                grid[gy * GridWidth + gx] = 2 * on >= p * p;
            }
        return grid;
    }

    private (int Height, int Width) OutputSize =>
        Options.Resolution == MaskResolution.Grid ? (GridHeight, GridWidth) : (ImageHeight, ImageWidth);

    internal override IEnumerable<OutputColumn<SegmentMasks>> DeclareOutputs()
    {
        (int height, int width) = OutputSize;
        yield return OutputColumn<SegmentMasks>.Vector(Options.OutputColumnName, new VectorDataViewType(BooleanDataViewType.Instance, height, width), r => r.Mask);
        if (Options.HeadMasksColumnName is string headMasks)
            yield return OutputColumn<SegmentMasks>.Vector(headMasks, new VectorDataViewType(BooleanDataViewType.Instance, heads.Length, height, width), r => r.HeadMasks);
    }

    internal override IReadOnlyList<SegmentMasks> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        using CrateIntrospection readout = Model.Introspect(images, new IntrospectionRequest { Layers = [layer], Sparsity = false });
        Tensor maps = readout.ForLayer(layer).ClsAttention!.index_select(1, tensor(heads.Select(h => (long)h).ToArray(), device: images.device));
        float[][] perImage = SplitRows(maps);
        int cells = GridHeight * GridWidth;
        var results = new SegmentMasks[perImage.Length];
        for (int i = 0; i < perImage.Length; i++)
        {
            var mean = new float[cells];
            var headMasks = new List<bool>(heads.Length * cells);
            for (int h = 0; h < heads.Length; h++)
            {
                ReadOnlySpan<float> map = perImage[i].AsSpan(h * cells, cells);
                for (int c = 0; c < cells; c++) mean[c] += map[c] / heads.Length;
                headMasks.AddRange(ToOutputResolution(AttentionMaskRules.Apply(Options.Rule, map, Options.Fraction)));
            }
            results[i] = new SegmentMasks(ToOutputResolution(AttentionMaskRules.Apply(Options.Rule, mean, Options.Fraction)), [.. headMasks]);
        }
        return results;
    }

    /// <summary>Grid mask → output resolution (<see cref="GridUpsampling"/>: each patch fills its P × P pixels).</summary>
    private bool[] ToOutputResolution(bool[] grid) =>
        Options.Resolution == MaskResolution.Grid ? grid : GridUpsampling.Nearest<bool>(grid, GridHeight, GridWidth, ImageHeight, ImageWidth);

    internal override void SaveState(CratePipelineWriter writer) => writer.WriteJson(HeadsEntry, heads);

    /// <summary>Reads a transform written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>, with its calibrated heads.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CrateSegmentOptions options) = reader.ReadNetworkAndOptions<CrateSegmentOptions>();
        return new CrateSegmentTransformer(network, network.Model.Architecture, options, reader.ReadJson<int[]>(HeadsEntry));
    }
}
