namespace Crate.Transforms.Segmentation;

/// <summary>An axis-aligned box in cells (grid patches or pixels): the top-left cell and the extent, both inclusive
/// of every cell of the mask it bounds.</summary>
/// <param name="X">Left column.</param>
/// <param name="Y">Top row.</param>
/// <param name="Width">Columns spanned (at least 1).</param>
/// <param name="Height">Rows spanned (at least 1).</param>
public readonly record struct MaskBox(int X, int Y, int Width, int Height);
