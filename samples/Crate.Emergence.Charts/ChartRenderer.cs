using System.Text.Json;
using ScottPlot;

namespace Crate.Emergence.Charts;

/// <summary>
/// Draws a <see cref="ChartRequest"/> with ScottPlot. The entry point takes and returns only strings, so that it can
/// be called across load contexts (see ChartHost in Crate.Emergence).
/// </summary>
public static class ChartRenderer
{
    // Colour-blind-safe (Okabe–Ito) for the models, a trained model and its untrained network sharing one; controls in
    // black and greys, so that a reader tells "a model" from "a mask that ignores the image" at a glance.
    private static readonly Color[] Palette =
    [
        Color.FromHex("#0072B2"), Color.FromHex("#D55E00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"),
        Color.FromHex("#E69F00"), Color.FromHex("#56B4E9"),
    ];

    private static readonly Color[] ControlColours = [Color.FromHex("#000000"), Color.FromHex("#555555"), Color.FromHex("#8C8C8C"), Color.FromHex("#B0B0B0")];

    private static readonly MarkerShape[] ModelMarkers = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond];
    private static readonly MarkerShape[] UntrainedMarkers = [MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp, MarkerShape.OpenDiamond];
    private static readonly MarkerShape[] ControlMarkers = [MarkerShape.Cross, MarkerShape.Asterisk, MarkerShape.Eks, MarkerShape.HashTag];

    /// <summary>Draws the request given as JSON and returns the path written.</summary>
    public static string Render(string requestJson)
    {
        ChartRequest request = JsonSerializer.Deserialize<ChartRequest>(requestJson)
            ?? throw new ArgumentException("The chart request is empty.", nameof(requestJson));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(request.OutputPath))!);
        if (request.Lines is LineFigure lines) DrawLines(lines, request.OutputPath);
        else if (request.Grid is PictureGrid grid) DrawGrid(grid, request.OutputPath);
        else throw new ArgumentException("The chart request has neither lines nor a grid.", nameof(requestJson));
        return request.OutputPath;
    }

    private static (Color Colour, MarkerShape Marker, LinePattern Pattern) Style(LineSeries series) => series.Kind switch
    {
        SeriesKind.Trained => (Palette[series.Colour % Palette.Length], ModelMarkers[series.Colour % ModelMarkers.Length], LinePattern.Solid),
        SeriesKind.Untrained => (Palette[series.Colour % Palette.Length], UntrainedMarkers[series.Colour % UntrainedMarkers.Length], LinePattern.Dashed),
        _ => (ControlColours[series.Colour % ControlColours.Length], ControlMarkers[series.Colour % ControlMarkers.Length], LinePattern.Dotted),
    };

    private static void Apply(ScottPlot.Plottables.Scatter line, LineSeries series)
    {
        (Color colour, MarkerShape marker, LinePattern pattern) = Style(series);
        line.Color = colour;
        line.LegendText = series.Name;
        line.LineWidth = series.Kind == SeriesKind.Trained ? 2.5f : 1.5f;
        line.LinePattern = pattern;
        line.MarkerSize = 8;
        line.MarkerShape = marker;
    }

    /// <summary>
    /// The panels in a grid, each title wrapped to its panel's width, and one more cell holding the legend of every
    /// series of the figure, so that no legend covers data.
    /// </summary>
    private static void DrawLines(LineFigure figure, string path)
    {
        int cells = figure.Panels.Count + 1;
        int columns = Math.Max(1, Math.Min(figure.Columns, cells));
        int rows = (cells + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(cells);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (int p = 0; p < figure.Panels.Count; p++)
        {
            LinePanel panel = figure.Panels[p];
            Plot plot = multiplot.GetPlot(p);
            // About 9 px a character of the 14 px bold title font.
            plot.Title(Wrap(panel.Title, figure.PanelWidth / 9), size: 14);
            plot.XLabel(panel.XLabel, size: 13);
            plot.YLabel(panel.YLabel, size: 13);
            double low = double.PositiveInfinity, high = double.NegativeInfinity;
            for (int s = 0; s < panel.Series.Count; s++)
            {
                LineSeries series = panel.Series[s];
                // Models sit a little apart along x so that their error bars do not hide each other.
                double shift = (s - (panel.Series.Count - 1) / 2.0) * 0.04;
                double[] x = series.X.Select(v => v + shift).ToArray();
                double[] y = series.Y.ToArray();
                var line = plot.Add.Scatter(x, y);
                Apply(line, series);
                if (series.Spread.Any(v => v > 0))
                {
                    var bars = plot.Add.ErrorBar(x, y, series.Spread.ToArray());
                    bars.Color = line.Color;
                    bars.LineWidth = 1.5f;
                }
                for (int i = 0; i < y.Length; i++)
                {
                    if (!double.IsFinite(y[i])) continue;
                    low = Math.Min(low, y[i] - series.Spread[i]);
                    high = Math.Max(high, y[i] + series.Spread[i]);
                }
            }
            if (panel.XTicks.Count > 0)
            {
                plot.Axes.Bottom.SetTicks(panel.XTicks.Select(t => (double)t).ToArray(), panel.XTicks.Select(t => t.ToString()).ToArray());
                plot.Axes.SetLimitsX(panel.XTicks.Min() - 0.4, panel.XTicks.Max() + 0.4);
            }
            if (double.IsFinite(low) && double.IsFinite(high))
            {
                double pad = Math.Max(0.02 * Math.Max(Math.Abs(high), 1e-3), 0.08 * (high - low));
                plot.Axes.SetLimitsY(Math.Max(0, low - pad), high + pad);
            }
            plot.Legend.IsVisible = false;
        }
        DrawLegend(multiplot.GetPlot(figure.Panels.Count), figure.Panels.SelectMany(p => p.Series).DistinctBy(s => s.Name).ToArray());
        int width = columns * figure.PanelWidth, height = rows * figure.PanelHeight;
        multiplot.SavePng(path, width, height);
    }

    /// <summary>A cell that holds only the legend: one point per series, kept outside the visible limits, and no axes.</summary>
    private static void DrawLegend(Plot plot, IReadOnlyList<LineSeries> series)
    {
        foreach (LineSeries s in series) Apply(plot.Add.Scatter(new[] { -10.0, -9.0 }, new[] { -10.0, -10.0 }), s);
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Axes.Frame(false);
        plot.Grid.IsVisible = false;
        foreach (var axis in new ScottPlot.IAxis[] { plot.Axes.Bottom, plot.Axes.Left, plot.Axes.Right, plot.Axes.Top }) axis.IsVisible = false;
        plot.Legend.IsVisible = true;
        plot.Legend.Alignment = Alignment.MiddleCenter;
        plot.Legend.FontSize = 12;
        plot.Legend.OutlineColor = Colors.Transparent;
    }

    private static void DrawGrid(PictureGrid grid, string path)
    {
        int rows = grid.Tiles.Count, columns = grid.Tiles.Max(r => r.Count);
        if (rows == 0 || columns == 0) throw new ArgumentException("The picture grid is empty.");
        var plot = new Plot();
        const double Gap = 0.04, CaptionHeight = 0.3;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < grid.Tiles[r].Count; c++)
            {
                string tile = grid.Tiles[r][c];
                if (string.IsNullOrEmpty(tile)) continue;
                var image = new Image(tile);
                var rect = plot.Add.ImageRect(image, new CoordinateRect(c + Gap, c + 1 - Gap, -(r + 1) + Gap, -r - Gap));
                rect.AntiAlias = false;
            }
        if (grid.ColourBar is ColourBar bar)
        {
            // The ramp across the top half of its cell; under it evenly spaced tick labels and the caption.
            var ramp = plot.Add.ImageRect(new Image(bar.Ramp), new CoordinateRect(bar.Column + Gap, bar.Column + 1 - Gap, -bar.Row - 0.45, -bar.Row - Gap));
            ramp.AntiAlias = false;
            for (int t = 0; t < bar.Ticks.Count; t++)
            {
                double at = bar.Column + Gap + (1 - 2 * Gap) * t / Math.Max(1, bar.Ticks.Count - 1);
                var tick = plot.Add.Text(bar.Ticks[t], at, -bar.Row - 0.5);
                tick.Alignment = t == 0 ? Alignment.UpperLeft : t == bar.Ticks.Count - 1 ? Alignment.UpperRight : Alignment.UpperCenter;
                tick.LabelFontSize = 12;
            }
            var caption = plot.Add.Text(Wrap(bar.Caption, grid.TileSize / 7), bar.Column + 0.5, -bar.Row - 0.68);
            caption.Alignment = Alignment.UpperCenter;
            caption.LabelFontSize = 11;
        }
        // Column captions as text above the tiles, row labels as the left axis' tick labels.
        for (int c = 0; c < grid.ColumnLabels.Count; c++)
        {
            var caption = plot.Add.Text(grid.ColumnLabels[c], c + 0.5, CaptionHeight / 2);
            caption.Alignment = Alignment.MiddleCenter;
            caption.LabelFontSize = 15;
        }
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => -r - 0.5).ToArray(), grid.RowLabels.ToArray());
        plot.Axes.Left.TickLabelStyle.FontSize = 15;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Left.MinorTickStyle.Length = 0;
        plot.Axes.Bottom.IsVisible = false;
        plot.Axes.Right.IsVisible = false;
        plot.Axes.Top.IsVisible = false;
        plot.Grid.IsVisible = false;
        plot.Axes.Frame(false);
        plot.Axes.SetLimits(0, columns, -rows, CaptionHeight);
        int left = 30 + 9 * grid.RowLabels.Max(l => l.Length), margin = 8;
        // The title is centred over the tiles: about 11 px a character of the 16 px bold font, within the tiles' width.
        string title = Wrap(grid.Title, Math.Max(12, columns * grid.TileSize / 11));
        plot.Title(title, size: 16);
        // Fixed margins (the row labels need room for their text), then square tiles: one unit is TileSize pixels both ways.
        int top = 20 + 24 * (title.Count(ch => ch == '\n') + 1);
        plot.Layout.Fixed(new PixelPadding(left, margin, margin, top));
        plot.SavePng(path, left + margin + columns * grid.TileSize, top + margin + (int)Math.Round((rows + CaptionHeight) * grid.TileSize));
    }

    /// <summary>Breaks <paramref name="text"/> into lines of at most <paramref name="width"/> characters at spaces.</summary>
    private static string Wrap(string text, int width)
    {
        var lines = new List<string>();
        string line = "";
        foreach (string word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line);
                line = word;
            }
            else line = line.Length == 0 ? word : line + " " + word;
        }
        lines.Add(line);
        return string.Join("\n", lines);
    }
}
