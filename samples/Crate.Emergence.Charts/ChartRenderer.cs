using System.Text.Json;
using ScottPlot;

namespace Crate.Emergence.Charts;

/// <summary>
/// Draws a <see cref="ChartRequest"/> with ScottPlot. The entry point takes and returns only strings, so that it can
/// be called across load contexts (see ChartHost in Crate.Emergence).
/// </summary>
public static class ChartRenderer
{
    // Colour-blind-safe (Okabe–Ito), one per model in the order the report lists them.
    private static readonly Color[] Palette =
    [
        Color.FromHex("#0072B2"), Color.FromHex("#D55E00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"),
        Color.FromHex("#E69F00"), Color.FromHex("#56B4E9"), Color.FromHex("#000000"),
    ];

    private static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.OpenCircle];

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

    private static void DrawLines(LineFigure figure, string path)
    {
        int columns = Math.Max(1, Math.Min(figure.Columns, figure.Panels.Count));
        int rows = (figure.Panels.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(figure.Panels.Count);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (int p = 0; p < figure.Panels.Count; p++)
        {
            LinePanel panel = figure.Panels[p];
            Plot plot = multiplot.GetPlot(p);
            plot.Title(panel.Title, size: 15);
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
                Color colour = Palette[s % Palette.Length];
                var line = plot.Add.Scatter(x, y, colour);
                line.LegendText = series.Name;
                line.LineWidth = 2;
                line.MarkerSize = 8;
                line.MarkerShape = Markers[s % Markers.Length];
                if (series.Spread.Any(v => v > 0))
                {
                    var bars = plot.Add.ErrorBar(x, y, series.Spread.ToArray());
                    bars.Color = colour;
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
            plot.Legend.IsVisible = p == 0;
            plot.Legend.Alignment = Alignment.UpperLeft;
            plot.Legend.FontSize = 12;
        }
        int width = columns * figure.PanelWidth, height = rows * figure.PanelHeight;
        multiplot.SavePng(path, width, height);
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
        // About 10 px a character of the 16 px bold title font, and a margin.
        string title = Wrap(grid.Title, (left + columns * grid.TileSize) / 11);
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
