namespace Crate.Transforms.Datasets;

/// <summary>
/// One 8-bit value per pixel, row-major: class ids (PASCAL VOC's SegmentationClass, 255 = void), instance ids
/// (SegmentationObject) or mask values, as stored in a palette-indexed or grayscale PNG.
/// </summary>
public sealed class LabelMap
{
    /// <summary>Wraps <paramref name="values"/> (not copied), row-major, <paramref name="height"/>·<paramref name="width"/> long.</summary>
    public LabelMap(int height, int width, byte[] values)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != (long)height * width)
            throw new ArgumentException($"A {width}×{height} label map needs {(long)height * width} values, got {values.Length}.", nameof(values));
        Height = height;
        Width = width;
        Values = values;
    }

    /// <summary>Rows.</summary>
    public int Height { get; }

    /// <summary>Columns.</summary>
    public int Width { get; }

    /// <summary>The values, row-major (the palette indices of a palette PNG, the gray levels of a grayscale one).</summary>
    public byte[] Values { get; }

    /// <summary>The value at (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public byte this[int row, int column] => Values[row * Width + column];
}
