namespace Crate.Emergence.Charts;

/// <summary>
/// What the report asks the chart library to draw, sent across as JSON: this file is compiled into both
/// Crate.Emergence and Crate.Emergence.Charts, which live in separate load contexts and share no types.
/// </summary>
/// <param name="OutputPath">The PNG to write.</param>
/// <param name="Lines">Line charts, one panel per metric; null when <paramref name="Grid"/> is given.</param>
/// <param name="Grid">A labelled grid of pictures; null when <paramref name="Lines"/> is given.</param>
public sealed record ChartRequest(string OutputPath, LineFigure? Lines, PictureGrid? Grid);

/// <summary>Panels of line charts in a grid of <paramref name="Columns"/> columns, each titled by its metric.</summary>
/// <param name="Columns">Panels per row.</param>
/// <param name="PanelWidth">Width of one panel in pixels.</param>
/// <param name="PanelHeight">Height of one panel in pixels.</param>
/// <param name="Panels">The panels, row by row.</param>
public sealed record LineFigure(int Columns, int PanelWidth, int PanelHeight, IReadOnlyList<LinePanel> Panels);

/// <summary>One chart: a line per series, with its spread drawn as error bars.</summary>
/// <param name="Title">The panel's title (the metric).</param>
/// <param name="XLabel">The horizontal axis' label.</param>
/// <param name="YLabel">The vertical axis' label.</param>
/// <param name="XTicks">Integer positions to label on the horizontal axis (layers, epochs).</param>
/// <param name="Series">The lines.</param>
public sealed record LinePanel(string Title, string XLabel, string YLabel, IReadOnlyList<int> XTicks, IReadOnlyList<LineSeries> Series);

/// <summary>One line: values at positions, with ± spread (a standard deviation; zeros draw no bars).</summary>
/// <param name="Name">The legend entry (the model).</param>
/// <param name="X">Positions.</param>
/// <param name="Y">Values.</param>
/// <param name="Spread">Half-height of each error bar.</param>
/// <param name="Colour">Which colour of the palette: a trained model and its untrained network share one.</param>
/// <param name="Kind">How the line is drawn, by what it is.</param>
public sealed record LineSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, IReadOnlyList<double> Spread, int Colour, SeriesKind Kind);

/// <summary>What a line stands for, which sets its style: solid with filled markers, dashed with open markers, or grey and dotted.</summary>
public enum SeriesKind
{
    /// <summary>A trained model.</summary>
    Trained,

    /// <summary>A network at its initialisation (the untrained floor).</summary>
    Untrained,

    /// <summary>A mask that does not look at the image's content (random, central, fitted position, oracle).</summary>
    Control,
}

/// <summary>Pictures (PNG files) in rows and columns, each row and column labelled.</summary>
/// <param name="Title">The figure's title.</param>
/// <param name="RowLabels">One label per row, drawn at its left.</param>
/// <param name="ColumnLabels">One label per column, drawn above it.</param>
/// <param name="Tiles">Tiles[row][column]: a PNG path, or an empty string for an empty cell.</param>
/// <param name="TileSize">The side of a tile in pixels of the figure.</param>
/// <param name="ColourBar">A colour bar drawn in a cell of its own, with tick labels; null for none.</param>
public sealed record PictureGrid(string Title, IReadOnlyList<string> RowLabels, IReadOnlyList<string> ColumnLabels,
    IReadOnlyList<IReadOnlyList<string>> Tiles, int TileSize, ColourBar? ColourBar);

/// <summary>
/// A colour bar: the ramp picture drawn across the cell at (<paramref name="Row"/>, <paramref name="Column"/>) of the
/// grid, its tick labels spaced evenly under it from the left end to the right end.
/// </summary>
/// <param name="Row">The grid row of its cell (an empty cell of Tiles).</param>
/// <param name="Column">The grid column of its cell.</param>
/// <param name="Ramp">The PNG of the colours from the low end (left) to the high end (right).</param>
/// <param name="Ticks">Tick labels, left to right; the first at the low end, the last at the high end.</param>
/// <param name="Caption">What the values are, written under the ticks.</param>
public sealed record ColourBar(int Row, int Column, string Ramp, IReadOnlyList<string> Ticks, string Caption);
