namespace Crate.Transforms.Segmentation;

/// <summary>An immutable boolean mask over a row-major grid of cells (patches or pixels).</summary>
public sealed class BinaryMask
{
    private readonly bool[] _cells;

    /// <summary>Copies <paramref name="cells"/>, row-major, <paramref name="height"/>·<paramref name="width"/> long.</summary>
    public BinaryMask(int height, int width, ReadOnlySpan<bool> cells)
        : this(height, width, cells.ToArray())
    {
    }

    private BinaryMask(int height, int width, bool[] cells)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (cells.Length != height * width)
            throw new ArgumentException($"Expected {height}·{width} = {height * width} cells, got {cells.Length}.", nameof(cells));
        Height = height;
        Width = width;
        _cells = cells;
        Area = cells.Count(c => c);
    }

    /// <summary>Takes ownership of <paramref name="cells"/> without copying; callers must not write to it afterwards.</summary>
    internal static BinaryMask Wrap(int height, int width, bool[] cells) => new(height, width, cells);

    /// <summary>Rows.</summary>
    public int Height { get; }

    /// <summary>Columns.</summary>
    public int Width { get; }

    /// <summary>Number of cells set.</summary>
    public int Area { get; }

    /// <summary>Whether the cell at (<paramref name="row"/>, <paramref name="column"/>) is set.</summary>
    public bool this[int row, int column] => _cells[row * Width + column];

    /// <summary>The cells, row-major.</summary>
    public ReadOnlySpan<bool> Cells => _cells;

    /// <summary>The tightest box holding every set cell; null when the mask is empty.</summary>
    public MaskBox? BoundingBox()
    {
        int top = int.MaxValue, bottom = -1, left = int.MaxValue, right = -1;
        for (int row = 0; row < Height; row++)
            for (int column = 0; column < Width; column++)
            {
                if (!_cells[row * Width + column]) continue;
                top = Math.Min(top, row);
                bottom = row;
                left = Math.Min(left, column);
                right = Math.Max(right, column);
            }
        return bottom < 0 ? null : new MaskBox(left, top, right - left + 1, bottom - top + 1);
    }

    /// <summary>|this ∩ other| / |this ∪ other| (<see cref="IntersectionOverUnion(ReadOnlySpan{bool}, ReadOnlySpan{bool})"/>). The
    /// masks must have the same shape.</summary>
    public double IntersectionOverUnion(BinaryMask other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Height != Height || other.Width != Width)
            throw new ArgumentException($"Shapes differ: {Height}×{Width} and {other.Height}×{other.Width}.", nameof(other));
        return IntersectionOverUnion(_cells, other._cells);
    }

    /// <summary>
    /// |a ∧ b| / |a ∨ b|, the IoU of eq. (13), of two masks of the same length; 0 when both are empty. The empty case
    /// follows pycocotools (maskUtils.iou gives 0 for an empty union), so our scores agree with COCO evaluation, and
    /// an empty prediction never earns credit: a mean IoU is not raised by images where nothing was found.
    /// </summary>
    public static double IntersectionOverUnion(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Masks of {a.Length} and {b.Length} entries cannot be compared.", nameof(b));
        int intersection = 0, union = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] && b[i]) intersection++;
            if (a[i] || b[i]) union++;
        }
        return union == 0 ? 0 : (double)intersection / union;
    }
}
