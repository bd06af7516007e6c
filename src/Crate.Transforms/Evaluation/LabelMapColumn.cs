using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// A vector column of per-pixel labels (truth or prediction): Boolean (false 0, true 1), Byte, UInt16, Int32 or
/// UInt32 values, read row by row as Int32. Its spatial shape [height, width] is the last two dimensions of the
/// column's type when it has at least two; leading dimensions (layers, heads) are kept as <see cref="Planes"/>.
/// </summary>
internal sealed class LabelMapColumn
{
    private LabelMapColumn(DataViewSchema.Column column, (int Height, int Width)? shape, int planes)
    {
        Column = column;
        Shape = shape;
        Planes = planes;
    }

    public DataViewSchema.Column Column { get; }

    /// <summary>[height, width] from the type, when it has two or more dimensions.</summary>
    public (int Height, int Width)? Shape { get; }

    /// <summary>The product of the dimensions before the last two (1 for a plain mask).</summary>
    public int Planes { get; }

    public static LabelMapColumn Find(DataViewSchema schema, string name, string role, bool allowFloat = false)
    {
        DataViewSchema.Column column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name,
                $"The data has no {role} column '{name}'. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        if (column.Type is VectorDataViewType { ItemType: KeyDataViewType })
            throw new ArgumentException(
                $"The {role} column '{name}' holds keys ({column.Type}), whose raw values are 1-based with 0 missing; map them back to class ids " +
                "first (mlContext.Transforms.Conversion.MapKeyToValue).", nameof(name));
        if (column.Type is not VectorDataViewType vector || !IsSupported(vector.ItemType.RawType, allowFloat))
            throw new ArgumentException(
                $"The {role} column '{name}' has type {column.Type}; expected a vector of Boolean, Byte, UInt16, Int32 or UInt32 labels" +
                (allowFloat ? " or Single attention maps." : "."), nameof(name));
        var dimensions = vector.Dimensions;
        (int, int)? shape = dimensions.Length >= 2 && dimensions[^1] > 0 && dimensions[^2] > 0 ? (dimensions[^2], dimensions[^1]) : null;
        int planes = 1;
        for (int d = 0; d < dimensions.Length - 2; d++) planes *= dimensions[d];
        return new LabelMapColumn(column, shape, planes);
    }

    public bool IsFloat => ((VectorDataViewType)Column.Type).ItemType.RawType == typeof(float);

    private static bool IsSupported(Type type, bool allowFloat) =>
        type == typeof(bool) || type == typeof(byte) || type == typeof(ushort) || type == typeof(int) || type == typeof(uint)
        || (allowFloat && type == typeof(float));

    /// <summary>A reader of the current row's values as Int32 (floats as their bits are not wanted: see <see cref="CreateFloatReader"/>).</summary>
    public Func<int[]> CreateReader(DataViewRow row)
    {
        Type type = ((VectorDataViewType)Column.Type).ItemType.RawType;
        if (type == typeof(bool)) return Reader<bool>(row, v => v ? 1 : 0);
        if (type == typeof(byte)) return Reader<byte>(row, v => v);
        if (type == typeof(ushort)) return Reader<ushort>(row, v => v);
        if (type == typeof(int)) return Reader<int>(row, v => v);
        if (type == typeof(uint)) return Reader<uint>(row, v => (int)Math.Min(v, int.MaxValue));
        throw new InvalidOperationException($"Column '{Column.Name}' holds {type.Name}, not labels.");
    }

    /// <summary>A reader of the current row's values as Single.</summary>
    public Func<float[]> CreateFloatReader(DataViewRow row)
    {
        ValueGetter<VBuffer<float>> getter = row.GetGetter<VBuffer<float>>(Column);
        VBuffer<float> buffer = default;
        return () =>
        {
            getter(ref buffer);
            return buffer.DenseValues().ToArray();
        };
    }

    private Func<int[]> Reader<T>(DataViewRow row, Func<T, int> convert)
    {
        ValueGetter<VBuffer<T>> getter = row.GetGetter<VBuffer<T>>(Column);
        VBuffer<T> buffer = default;
        return () =>
        {
            getter(ref buffer);
            var values = new int[buffer.Length];
            int i = 0;
            foreach (T value in buffer.DenseValues()) values[i++] = convert(value);
            return values;
        };
    }
}

/// <summary>
/// Where each truth pixel reads the prediction: the identity when both have the same number of entries (both
/// row-major at one size), otherwise the prediction's cell under the pixel's centre, by <see cref="GridUpsampling"/>'s
/// rule (pixel row y reads prediction row ⌊(y + ½)·h/H⌋, likewise for columns). When H = h·P this is
/// nearest-neighbour upsampling by P, as DINO's evaluation does with interpolate(scale_factor = P, mode = "nearest").
/// </summary>
internal sealed class TruthShape
{
    private readonly LabelMapColumn truth;
    private readonly Func<int>? height;
    private readonly Func<int>? width;
    private readonly Func<string> describe;

    private TruthShape(LabelMapColumn truth, Func<int>? height, Func<int>? width, Func<string> describe)
    {
        this.truth = truth;
        this.height = height;
        this.width = width;
        this.describe = describe;
    }

    /// <summary>A description of the current row for messages: "row 3 (2007_000032)".</summary>
    public string Describe() => describe();

    /// <summary>The columns the shape needs besides the truth: the height, width and name columns that exist.</summary>
    public static IEnumerable<DataViewSchema.Column> Columns(DataViewSchema schema, SegmentationEvaluationOptions options)
    {
        foreach (string name in new[] { options.HeightColumnName, options.WidthColumnName, options.NameColumnName })
            if (schema.GetColumnOrNull(name) is DataViewSchema.Column column) yield return column;
    }

    public static TruthShape Create(DataViewRowCursor cursor, LabelMapColumn truth, SegmentationEvaluationOptions options)
    {
        DataViewSchema schema = cursor.Schema;
        Func<int>? Int(string name)
        {
            if (schema.GetColumnOrNull(name) is not DataViewSchema.Column column || !cursor.IsColumnActive(column)) return null;
            if (column.Type != NumberDataViewType.Int32)
                throw new ArgumentException($"Column '{name}' is {column.Type}; the truth's size columns must be Int32.");
            ValueGetter<int> getter = cursor.GetGetter<int>(column);
            return () =>
            {
                int value = 0;
                getter(ref value);
                return value;
            };
        }
        Func<string> describe = () => $"row {cursor.Position}";
        if (schema.GetColumnOrNull(options.NameColumnName) is DataViewSchema.Column nameColumn && nameColumn.Type is TextDataViewType
            && cursor.IsColumnActive(nameColumn))
        {
            ValueGetter<ReadOnlyMemory<char>> getName = cursor.GetGetter<ReadOnlyMemory<char>>(nameColumn);
            describe = () =>
            {
                ReadOnlyMemory<char> name = default;
                getName(ref name);
                return $"row {cursor.Position} ({name})";
            };
        }
        return new TruthShape(truth, Int(options.HeightColumnName), Int(options.WidthColumnName), describe);
    }

    /// <summary>
    /// For each of the <paramref name="truthLength"/> truth pixels, the index of the prediction entry it reads, given
    /// a prediction plane of <paramref name="predictionLength"/> entries shaped <paramref name="predictionShape"/>.
    /// Null means the identity.
    /// </summary>
    public int[]? PixelToPrediction(int truthLength, int predictionLength, (int Height, int Width)? predictionShape, string predictionColumn)
    {
        if (truthLength == predictionLength) return null;
        (int Height, int Width) truthShape = truth.Shape ?? (height is not null && width is not null
            ? (height(), width())
            : throw new InvalidDataException(
                $"{Describe()}: the prediction '{predictionColumn}' has {predictionLength} entries and the truth '{truth.Column.Name}' {truthLength}, " +
                $"and the truth's height and width are unknown (its type has no [height, width] shape and the data has no Int32 Height and Width columns to name in the options)."));
        if (truthShape.Height * (long)truthShape.Width != truthLength)
            throw new InvalidDataException($"{Describe()}: the truth '{truth.Column.Name}' has {truthLength} entries, not its height × width {truthShape.Height}×{truthShape.Width}.");
        if (predictionShape is not (int h, int w) || h * w != predictionLength)
            throw new InvalidDataException(
                $"{Describe()}: the prediction '{predictionColumn}' has {predictionLength} entries per mask and the truth '{truth.Column.Name}' {truthLength} " +
                $"({truthShape.Width}×{truthShape.Height}); a prediction of another size must be a column whose type gives its [height, width] (as CrateSegment's are).");
        return CellMap(truthShape.Height, truthShape.Width, h, w);
    }

    /// <summary>For each pixel of an <paramref name="height"/>×<paramref name="width"/> image, the index of the cell of an
    /// <paramref name="gridHeight"/>×<paramref name="gridWidth"/> grid under its centre.</summary>
    public static int[] CellMap(int height, int width, int gridHeight, int gridWidth)
    {
        int[] rows = GridUpsampling.NearestCells(height, gridHeight), columns = GridUpsampling.NearestCells(width, gridWidth);
        var cells = new int[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                cells[y * width + x] = rows[y] * gridWidth + columns[x];
        return cells;
    }
}
