using TorchSharp;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Crate.Transforms.Segmentation;

/// <summary>Options of <see cref="CratePcaFeaturesTransformer"/>.</summary>
public sealed record CratePcaFeaturesOptions : CrateReadoutOptions
{
    /// <summary>The RGB map column, [3, h, w] in [0, 1], black on the background. Default "PcaRgb".</summary>
    public string OutputColumnName { get; init; } = "PcaRgb";

    /// <summary>The foreground mask column [h, w]. Default "Foreground".</summary>
    public string ForegroundColumnName { get; init; } = "Foreground";

    /// <summary>The layer whose head features [U₁*z, …, U_K*z] are analysed; null for the last layer. Default null.</summary>
    public int? Layer { get; init; }

    /// <summary>λ of the hard threshold on the first component, after scaling it to [0, 1] over the fitting set. Default 0.5 (Appendix B.2).</summary>
    public double ForegroundThreshold { get; init; } = 0.5;

    /// <summary>Most patch features fitting may hold in memory (patches × feature width). Default 2²⁷ floats (512 MiB).</summary>
    public long MaxFittingValues { get; init; } = 1L << 27;
}

/// <summary>The fitted PCA of Appendix B.2: what separates foreground from background, and the three foreground components.</summary>
public sealed record PcaBasis
{
    /// <summary>Mean of all fitting patch features.</summary>
    public required float[] Mean { get; init; }

    /// <summary>First principal component u₀, signed so that the image border scores low (background).</summary>
    public required float[] First { get; init; }

    /// <summary>Smallest and largest projection on u₀ over the fitting set: the [0, 1] scaling of the threshold.</summary>
    public required float[] FirstRange { get; init; }

    /// <summary>Mean of the foreground patch features.</summary>
    public required float[] ForegroundMean { get; init; }

    /// <summary>u₁, u₂, u₃ fitted on foreground patches, concatenated (3 × D).</summary>
    public required float[] Components { get; init; }

    /// <summary>Per component, smallest and largest foreground projection (6 values): the RGB scaling.</summary>
    public required float[] ComponentRanges { get; init; }

    /// <summary>An all-zero basis of the right width: for a transform that is only asked its schema or its features.</summary>
    internal static PcaBasis Unfitted(int width) => new()
    {
        Mean = new float[width], First = new float[width], FirstRange = [0, 1], ForegroundMean = new float[width],
        Components = new float[3 * width], ComponentRanges = new float[6],
    };
}

/// <summary>
/// PCA feature maps (Appendix B.2): each patch's head features are projected on the first principal component
/// of the fitting set; thresholding it drops the background; three components fitted on foreground patches give
/// an RGB colour per patch (eq. 12). Fitted by <c>mlContext.Transforms.CratePcaFeatures(...)</c>; the basis is
/// saved with the transformer.
/// </summary>
public sealed class CratePcaFeaturesTransformer : CrateReadoutTransformer<CratePcaFeaturesOptions, (float[] Rgb, bool[] Foreground)>, ICratePersistable
{
    private const string BasisEntry = "basis.json";
    private readonly int layer;

    /// <summary>Creates the transform from a fitted basis over <paramref name="model"/>, which stays as it is.</summary>
    public CratePcaFeaturesTransformer(CrateModel model, CratePcaFeaturesOptions options, PcaBasis basis)
        : this(NetworkLease.Borrow(model), model.Architecture, options, basis)
    {
    }

    internal CratePcaFeaturesTransformer(NetworkLease? network, CrateArchitecture architecture, CratePcaFeaturesOptions options, PcaBasis basis)
        : base(network, architecture, options)
    {
        Basis = basis ?? throw new ArgumentNullException(nameof(basis));
        layer = CheckLayer(options.Layer ?? architecture.Depth - 1);
        int width = architecture.InnerDim;
        if (basis.Mean.Length != width || basis.First.Length != width || basis.Components.Length != 3 * width)
            throw new ArgumentException($"The PCA basis is for features of width {basis.Mean.Length}, but the model's head features have width {width}.", nameof(basis));
    }

    /// <summary>The fitted basis.</summary>
    public PcaBasis Basis { get; }

    /// <summary>Fits the basis on the images of <paramref name="data"/>.</summary>
    internal static CratePcaFeaturesTransformer Fit(NetworkLease network, CratePcaFeaturesOptions options, IDataView data, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        CrateArchitecture architecture = network.Model.Architecture;
        // An unfitted basis only serves to run the feature pass through the same machinery; the fitted transformer
        // shares its placed network.
        using var reader = new CratePcaFeaturesTransformer(network, architecture, options, PcaBasis.Unfitted(architecture.InnerDim));
        reader.AttachTo(environment);
        using Tensor features = reader.CollectFeatures(data);
        PcaBasis basis = FitBasis(features, reader.GridHeight, reader.GridWidth, options.ForegroundThreshold);
        return new CratePcaFeaturesTransformer(((INetworkOwner)reader).Network, architecture, options, basis);
    }

    /// <summary>All patch features of the data, [images, N, D], on the CPU.</summary>
    private Tensor CollectFeatures(IDataView data)
    {
        ImageColumn image = ImageColumn.Find(data.Schema, Options.InputColumnName, ImageHeight, ImageWidth);
        long perImage = (long)GridHeight * GridWidth * Architecture.InnerDim;
        var batches = new List<Tensor>();
        long held = 0;
        using (DataViewRowCursor cursor = data.GetRowCursor([image.Column]))
        {
            Func<ImagePixels> read = image.CreateReader(cursor);
            var pending = new List<ImagePixels>();
            NetworkRunLog log = CreateRunLog(image.Column.Name);
            void Flush()
            {
                if (pending.Count == 0) return;
                log.BeforeBatch();
                using (var scope = NewDisposeScope())
                using (var noGrad = no_grad())
                {
                    Tensor images = Options.Normalization.ToBatch(pending, ImageHeight, ImageWidth, Model.Device).to_type(Model.ElementType);
                    batches.Add(HeadFeatures(images).to_type(ScalarType.Float32).cpu().MoveToOuterDisposeScope());
                }
                log.AfterBatch(pending.Count);
                pending.Clear();
            }
            while (cursor.MoveNext())
            {
                held += perImage;
                if (held > Options.MaxFittingValues)
                    throw new InvalidOperationException(
                        $"Fitting PCA on this many images would hold more than {Options.MaxFittingValues:N0} feature values; fit on fewer images or raise MaxFittingValues.");
                pending.Add(read());
                if (pending.Count == Options.BatchSize) Flush();
            }
            Flush();
        }
        if (batches.Count == 0) throw new ArgumentException("PCA needs at least one image to fit on; the data has no rows.", nameof(data));
        Tensor all = cat(batches.ToArray(), 0);
        foreach (Tensor batch in batches) batch.Dispose();
        return all;
    }

    /// <summary>Patch head features of the chosen layer, [B, N, K·p] ([CLS] dropped), in float32.</summary>
    private Tensor HeadFeatures(Tensor images)
    {
        using CrateIntrospection readout = Model.Introspect(images,
            new IntrospectionRequest { Layers = [layer], ClsAttention = false, HeadFeatures = true, Sparsity = false });
        Tensor features = readout.ForLayer(layer).HeadFeatures!;
        return features.narrow(1, 1, features.shape[1] - 1).to_type(ScalarType.Float32);
    }

    internal static PcaBasis FitBasis(Tensor features, int gridHeight, int gridWidth, double threshold)
    {
        using var scope = NewDisposeScope();
        long images = features.shape[0], n = features.shape[1], width = features.shape[2];
        Tensor x = features.reshape(images * n, width).to_type(ScalarType.Float64);
        (Tensor mean, Tensor first) = TopComponents(x, 1);
        Tensor scores = (x - mean).matmul(first).squeeze(1);
        // PCA's sign is arbitrary: orient u₀ so that patches on the image border, mostly background, score low.
        Tensor border = BorderMask(gridHeight, gridWidth).repeat(images);
        if (scores[border].mean().item<double>() > scores[border.logical_not()].mean().item<double>())
        {
            first = -first;
            scores = -scores;
        }
        double low = scores.min().item<double>(), high = scores.max().item<double>();
        using Scalar lowest = low.ToScalar(), span = Math.Max(high - low, 1e-12).ToScalar(), cut = threshold.ToScalar(); // held (HeldScalars)
        Tensor foreground = scores.sub(lowest).div_(span).ge(cut);
        Tensor chosen = x[foreground];
        if (chosen.shape[0] < 4) chosen = x; // too few foreground patches to fit three components: use all
        (Tensor foregroundMean, Tensor components) = TopComponents(chosen, 3);
        Tensor projections = (chosen - foregroundMean).matmul(components);
        Tensor ranges = stack([projections.min(0).values, projections.max(0).values], 1).flatten();
        return new PcaBasis
        {
            Mean = Floats(mean),
            First = Floats(first.squeeze(1)),
            FirstRange = [(float)low, (float)high],
            ForegroundMean = Floats(foregroundMean),
            Components = Floats(components.t()),
            ComponentRanges = Floats(ranges),
        };
    }

    /// <summary>The mean and the <paramref name="count"/> leading eigenvectors (columns, by decreasing variance) of the rows' covariance.</summary>
    private static (Tensor Mean, Tensor Components) TopComponents(Tensor rows, int count)
    {
        Tensor mean = rows.mean([0]);
        Tensor centred = rows - mean;
        Tensor covariance = centred.t().matmul(centred) / Math.Max(1, rows.shape[0] - 1);
        (Tensor _, Tensor vectors) = linalg.eigh(covariance); // ascending eigenvalues
        return (mean, vectors.narrow(1, vectors.shape[1] - count, count).flip(1));
    }

    private static Tensor BorderMask(int gridHeight, int gridWidth)
    {
        var mask = new bool[gridHeight * gridWidth];
        for (int y = 0; y < gridHeight; y++)
            for (int x = 0; x < gridWidth; x++)
                mask[y * gridWidth + x] = y == 0 || x == 0 || y == gridHeight - 1 || x == gridWidth - 1;
        return tensor(mask);
    }

    private static float[] Floats(Tensor t) => t.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    internal override IEnumerable<OutputColumn<(float[] Rgb, bool[] Foreground)>> DeclareOutputs() =>
    [
        OutputColumn<(float[] Rgb, bool[] Foreground)>.Vector(Options.OutputColumnName,
            new VectorDataViewType(NumberDataViewType.Single, 3, GridHeight, GridWidth), r => r.Rgb),
        OutputColumn<(float[] Rgb, bool[] Foreground)>.Vector(Options.ForegroundColumnName,
            new VectorDataViewType(BooleanDataViewType.Instance, GridHeight, GridWidth), r => r.Foreground),
    ];

    internal override IReadOnlyList<(float[] Rgb, bool[] Foreground)> Compute(Tensor images, IReadOnlyList<ImagePixels> originals)
    {
        Device device = images.device;
        Tensor x = HeadFeatures(images);                                           // [B, N, D]
        Tensor first = tensor(Basis.First, device: device);
        Tensor scores = (x - tensor(Basis.Mean, device: device)).matmul(first);     // [B, N]
        // Every number held for the calls (HeldScalars).
        using Scalar firstLow = Basis.FirstRange[0].ToScalar(), firstSpan = Math.Max(Basis.FirstRange[1] - Basis.FirstRange[0], 1e-12f).ToScalar(),
            threshold = Options.ForegroundThreshold.ToScalar(), tiny = 1e-12.ToScalar(), zero = 0.ToScalar(), one = 1.ToScalar();
        Tensor scaled = scores.sub(firstLow).div_(firstSpan);
        Tensor foreground = scaled.ge(threshold);
        long width = Basis.Mean.Length;
        Tensor components = tensor(Basis.Components, device: device).reshape(3, width);
        Tensor projections = (x - tensor(Basis.ForegroundMean, device: device)).matmul(components.t()); // [B, N, 3]
        Tensor ranges = tensor(Basis.ComponentRanges, device: device).reshape(3, 2);
        Tensor low = ranges.select(1, 0), high = ranges.select(1, 1);
        Tensor rgb = (projections - low).div_((high - low).clamp_min(tiny)).clamp_(zero, one) * foreground.unsqueeze(-1);
        Tensor channelsFirst = rgb.permute(0, 2, 1).contiguous();                  // [B, 3, N]
        float[][] colours = SplitRows(channelsFirst);
        bool[][] masks = SplitRows<bool>(foreground);
        return Enumerable.Range(0, colours.Length).Select(i => (colours[i], masks[i])).ToArray();
    }

    internal override void SaveState(CratePipelineWriter writer) => writer.WriteJson(BasisEntry, Basis);

    /// <summary>Reads a transform written by <see cref="CrateNetworkTransformer{TOptions,TResult}.SaveTo"/>, with its fitted basis.</summary>
    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        (NetworkLease network, CratePcaFeaturesOptions options) = reader.ReadNetworkAndOptions<CratePcaFeaturesOptions>();
        return new CratePcaFeaturesTransformer(network, network.Model.Architecture, options, reader.ReadJson<PcaBasis>(BasisEntry));
    }
}
