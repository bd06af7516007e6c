using Crate.Emergence.Charts;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Visualization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence;

/// <summary>
/// The report's pictures: tiles drawn by <see cref="SegmentationPictures"/> (heatmaps, mask overlays, PCA maps, MaskCut
/// boxes), laid out with row and column labels, and the layer-wise and epoch-wise curves, both by ScottPlot
/// (<see cref="ChartHost"/>). Each method returns the file name it wrote in <c>directory</c>.
/// </summary>
public sealed class ReportPictures(MLContext context, string directory, MeasurementSettings measurement)
{
    private const int TileSize = 150;
    private readonly string tiles = Directory.CreateTempSubdirectory("crate-emergence-tiles-").FullName;
    private int tileCount;

    /// <summary>Deletes the tiles the grids were made of.</summary>
    public void DeleteTiles() => Directory.Delete(tiles, recursive: true);

    /// <summary>
    /// Figures 1, 4 and 14: each model's [CLS] attention at the penultimate layer (its best head by eq. 13) over the same
    /// images, and each model's merged top-P mask.
    /// </summary>
    public string Attention(IReadOnlyList<ShowcaseModel> models, PictureSet pictures, string file = "attention.png")
    {
        var rows = new List<IReadOnlyList<string>> { pictures.Images.Select(i => Tile(SegmentationPictures.MaskOverlay(i, new bool[1], 1, 1, opacity: 0, Scale(i)))).ToArray() };
        var labels = new List<string> { "image" };
        foreach (ShowcaseModel model in models)
        {
            int layer = Penultimate(model.Network.Architecture), head = BestHead(model, layer);
            (float[][] maps, int gridHeight, int gridWidth) = AttentionMaps(model.Network, pictures, layer, [head]);
            rows.Add(pictures.Images.Select((image, i) => Tile(SegmentationPictures.Heatmap(image, maps[i], gridHeight, gridWidth, 0.65f, Scale(image)))).ToArray());
            labels.Add($"{model.Name} head {head + 1}");
        }
        foreach (ShowcaseModel model in models)
        {
            int layer = Penultimate(model.Network.Architecture);
            var options = new CrateSegmentOptions { Layer = layer, Rule = measurement.Rule, Fraction = measurement.Fraction, HeadMasksColumnName = null }
                with { ImageHeight = measurement.InputSize, ImageWidth = measurement.InputSize, Device = measurement.Device };
            using var segment = context.Transforms.CrateSegment(model.Network, options).Fit(pictures.View);
            IDataView scored = segment.Transform(pictures.View);
            var type = (VectorDataViewType)scored.Schema["PredictedMask"].Type;
            bool[][] masks = scored.GetColumn<bool[]>("PredictedMask").ToArray();
            rows.Add(pictures.Images.Select((image, i) => Tile(SegmentationPictures.MaskOverlay(image, masks[i], type.Dimensions[0], type.Dimensions[1], 0.45f, Scale(image)))).ToArray());
            labels.Add($"{model.Name} mask");
        }
        return Grid(file, $"Penultimate layer: [CLS] attention (best head) and top-{measurement.Fraction:P0} mask; maps scaled min to max; nearest sampling, one block per patch",
            labels, pictures.Captions, rows, withColourBar: true);
    }

    /// <summary>
    /// Figure 7: every head of each model's penultimate layer across the same images (rows: model, layer and head), the
    /// models one under the other (CRATE beside ViT), and a colour bar.
    /// </summary>
    public string Heads(IReadOnlyList<ShowcaseModel> models, PictureSet pictures, string file = "heads.png")
    {
        ArgumentNullException.ThrowIfNull(models);
        var rows = new List<IReadOnlyList<string>> { pictures.Images.Select(i => Tile(SegmentationPictures.MaskOverlay(i, new bool[1], 1, 1, opacity: 0, Scale(i)))).ToArray() };
        var labels = new List<string> { "image" };
        foreach (ShowcaseModel model in models)
        {
            int layer = Penultimate(model.Network.Architecture), heads = model.Network.Architecture.Heads;
            (float[][] maps, int gridHeight, int gridWidth) = AttentionMaps(model.Network, pictures, layer, null);
            int cells = gridHeight * gridWidth;
            for (int k = 0; k < heads; k++)
            {
                rows.Add(pictures.Images.Select((image, i) =>
                    Tile(SegmentationPictures.Heatmap(image, maps[i].AsSpan(k * cells, cells), gridHeight, gridWidth, 0.65f, Scale(image)))).ToArray());
                labels.Add($"{model.Name} L{layer + 1} head {k + 1}");
            }
        }
        return Grid(file, "[CLS] attention, every head of the penultimate layer (L); maps scaled min to max; nearest sampling, one block per patch",
            labels, pictures.Captions, rows, withColourBar: true);
    }

    /// <summary>
    /// The heatmaps' colour bar, in a row of its own under the tiles: the colours from a map's minimum (left) to its
    /// maximum (right), drawn by the heatmaps' own code, with ticks at 0, 50 and 100 % of each map's range.
    /// </summary>
    private ColourBar ColourBar(int row)
    {
        const int steps = 64;
        var blank = new ImagePixels(TileSize, TileSize, new float[3 * TileSize * TileSize]);
        float[] ramp = Enumerable.Range(0, steps).Select(i => (float)i / (steps - 1)).ToArray();
        return new ColourBar(row, 0, Tile(SegmentationPictures.Heatmap(blank, ramp, 1, steps, opacity: 1f)), ["0", "50", "100"],
            "% of each map's range, min → max");
    }

    /// <summary>Figure 3: PCA of the penultimate layer's head features (Appendix B.2), fitted per model on images of one class.</summary>
    public string Pca(IReadOnlyList<ShowcaseModel> models, PictureSet pictures, string file = "pca.png")
    {
        var rows = new List<IReadOnlyList<string>> { pictures.Images.Select(i => Tile(SegmentationPictures.MaskOverlay(i, new bool[1], 1, 1, opacity: 0, Scale(i)))).ToArray() };
        var labels = new List<string> { "image" };
        foreach (ShowcaseModel model in models)
        {
            int layer = Penultimate(model.Network.Architecture);
            var options = new CratePcaFeaturesOptions { Layer = layer, ImageHeight = measurement.InputSize, ImageWidth = measurement.InputSize, Device = measurement.Device };
            using var pca = context.Transforms.CratePcaFeatures(model.Network, options).Fit(pictures.View);
            IDataView scored = pca.Transform(pictures.View);
            var type = (VectorDataViewType)scored.Schema["PcaRgb"].Type;
            int gridHeight = type.Dimensions[1], gridWidth = type.Dimensions[2];
            float[][] rgb = scored.GetColumn<float[]>("PcaRgb").ToArray();
            rows.Add(rgb.Select((map, i) => Tile(SegmentationPictures.PcaMap(map, gridHeight, gridWidth, Math.Max(1, TileSize / Math.Max(gridHeight, gridWidth))))).ToArray());
            labels.Add(model.Name);
        }
        return Grid(file, "PCA of the penultimate layer's head features: components 1-3 as RGB where component 0 marks foreground (Appendix B.2)", labels, pictures.Captions, rows);
    }

    /// <summary>Figure 5: MaskCut's objects and boxes from each model's last layer.</summary>
    public string MaskCut(IReadOnlyList<ShowcaseModel> models, PictureSet pictures, string file = "maskcut.png")
    {
        var rows = new List<IReadOnlyList<string>>();
        var labels = new List<string>();
        foreach (ShowcaseModel model in models)
        {
            CrateArchitecture architecture = model.Network.Architecture;
            var options = new CrateMaskCutOptions
            {
                Cut = measurement.Cut, ImageHeight = measurement.InputSize ?? architecture.ImageHeight,
                ImageWidth = measurement.InputSize ?? architecture.ImageWidth, Device = measurement.Device,
            };
            using var cut = context.Transforms.CrateMaskCut(model.Network, options).Fit(pictures.View);
            MaskCutPrediction[] found = context.Data.CreateEnumerable<MaskCutPrediction>(cut.Transform(pictures.View), reuseRowObject: false).ToArray();
            rows.Add(pictures.Images.Select((image, i) =>
            {
                IReadOnlyList<MaskCutDetection> objects = found[i].Objects();
                return Tile(SegmentationPictures.MasksWithBoxes(image, objects.Select(o => o.Mask.Cells.ToArray()).ToList(),
                    objects.Select(o => ((int)o.X0, (int)o.Y0, (int)(o.X1 - o.X0 + 1), (int)(o.Y1 - o.Y0 + 1))).ToList(), 0.45f, Scale(image)));
            }).ToArray());
            labels.Add(model.Name);
        }
        return Grid(file, $"MaskCut (n = {measurement.Cut.MaxObjects}, τ = {measurement.Cut.AffinityThreshold:G3}) on the last layer's head features",
            labels, pictures.Captions, rows);
    }

    /// <summary>Figure 6 (left) and Figure 4 (b) by layer: one panel per metric, one line per model, mean ± s over seeds.</summary>
    public string LayerCurves(IReadOnlyList<ModelSummary> models, string file = "layers.png") =>
        Curves(file, "layer", models,
            m => m.Layers.Select(l => (l.Layer + 1, l.Metrics)).ToArray());

    /// <summary>Figure 10: the same metrics at each epoch end, at the last measured layer.</summary>
    public string EpochCurves(IReadOnlyList<ModelSummary> models, string file = "epochs.png") =>
        Curves(file, "epoch", models,
            m => m.Epochs.Select(e => (e.Epoch, e.Metrics)).ToArray());

    private string Curves(string file, string xLabel, IReadOnlyList<ModelSummary> models,
        Func<ModelSummary, (int X, IReadOnlyDictionary<Metric, MeanAndSpread> Metrics)[]> points)
    {
        var panels = new List<LinePanel>();
        // A trained model and its untrained network share a colour; controls number their own greys.
        var trained = models.Where(m => m.Role is not (ModelRole.Untrained or ModelRole.Control)).Select(m => m.Model).ToList();
        var controls = models.Where(m => m.Role == ModelRole.Control).Select(m => m.Model).ToList();
        (int Colour, SeriesKind Kind) Style(ModelSummary m) => m.Role switch
        {
            ModelRole.Control => (controls.IndexOf(m.Model), SeriesKind.Control),
            ModelRole.Untrained => (Math.Max(0, trained.FindIndex(name => ModelNames.Untrained(name) == m.Model)), SeriesKind.Untrained),
            _ => (trained.IndexOf(m.Model), SeriesKind.Trained),
        };
        foreach (Metric metric in Metrics.Plotted)
        {
            var series = models.Select(m =>
            {
                var values = points(m);
                (int colour, SeriesKind kind) = Style(m);
                return new LineSeries(m.Model, values.Select(v => (double)v.X).ToArray(), values.Select(v => 100 * v.Metrics[metric].Mean).ToArray(),
                    values.Select(v => double.IsFinite(v.Metrics[metric].StandardDeviation) ? 100 * v.Metrics[metric].StandardDeviation : 0).ToArray(),
                    colour, kind);
            }).Where(s => s.Y.Any(double.IsFinite)).ToArray(); // controls have no MaskCut, and only trained models have epochs
            int[] ticks = series.SelectMany(s => s.X).Distinct().Order().Select(x => (int)x).ToArray();
            panels.Add(new LinePanel(Metrics.Title(metric), xLabel, "%", ticks, series));
        }
        string path = Path.Combine(directory, file);
        ChartHost.Draw(new ChartRequest(path, new LineFigure(3, 430, 330, panels), null));
        return file;
    }

    /// <summary>Draws the tiles; <paramref name="withColourBar"/> adds a row under them, labelled "colour", holding the heatmaps' colour bar.</summary>
    private string Grid(string file, string title, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels, IReadOnlyList<IReadOnlyList<string>> rows,
        bool withColourBar = false)
    {
        string path = Path.Combine(directory, file);
        ColourBar? bar = null;
        if (withColourBar)
        {
            bar = ColourBar(rows.Count);
            rows = [.. rows, columnLabels.Select(_ => "").ToArray()];
            rowLabels = [.. rowLabels, "colour"];
        }
        ChartHost.Draw(new ChartRequest(path, null, new PictureGrid(title, rowLabels, columnLabels, rows, TileSize, bar)));
        return file;
    }

    private string Tile(MLImage picture)
    {
        using (picture)
        {
            string path = Path.Combine(tiles, $"tile-{tileCount++:D5}.png");
            picture.Save(path);
            return path;
        }
    }

    /// <summary>Small images are drawn with each pixel as a block, so that the tile is sharp at the figure's size.</summary>
    private static int Scale(ImagePixels image) => Math.Max(1, TileSize / Math.Max(image.Height, image.Width));

    private static int Penultimate(CrateArchitecture architecture) => Math.Max(0, architecture.Depth - 2);

    /// <summary>The head most often best in eq. 13 at <paramref name="layer"/>, or head 0 when the layer was not measured.</summary>
    private static int BestHead(ShowcaseModel model, int layer)
    {
        LayerResult? measured = model.Layers.FirstOrDefault(l => l.Layer == layer);
        if (measured is null || measured.BestHeadCounts.Count == 0) return 0;
        long most = measured.BestHeadCounts.Max();
        return measured.BestHeadCounts.ToList().IndexOf(most);
    }

    private (float[][] Maps, int GridHeight, int GridWidth) AttentionMaps(CrateModel network, PictureSet pictures, int layer, IReadOnlyList<int>? heads)
    {
        var options = new CrateAttentionOptions
        {
            Layers = [layer], Heads = heads, ImageHeight = measurement.InputSize, ImageWidth = measurement.InputSize, Device = measurement.Device,
        };
        using var attention = context.Transforms.CrateAttention(network, options).Fit(pictures.View);
        IDataView scored = attention.Transform(pictures.View);
        var type = (VectorDataViewType)scored.Schema["Attention"].Type;
        return (scored.GetColumn<float[]>("Attention").ToArray(), type.Dimensions[2], type.Dimensions[3]);
    }
}
