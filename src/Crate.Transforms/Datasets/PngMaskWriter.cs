using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Datasets;

/// <summary>Options of <see cref="DatasetCatalog.SaveAsPngMasks"/>.</summary>
public sealed record PngMaskWriterOptions
{
    /// <summary>The PNG palette; null writes 8-bit grayscale instead. Default <see cref="VocSegmentation.Palette"/>, so the
    /// files look like VOC's and the devkit reads them.</summary>
    public IReadOnlyList<(byte R, byte G, byte B)>? Palette { get; init; } = VocSegmentation.Palette;

    /// <summary>The value written for true in a Boolean mask (false writes 0). Default 1.</summary>
    public byte ForegroundValue { get; init; } = 1;

    /// <summary>An Int32 column giving each file's height, used when the data has it (the readers' "Height": masks are then
    /// written at the image's own size, as the devkit requires). Default "Height".</summary>
    public string HeightColumnName { get; init; } = "Height";

    /// <summary>An Int32 column giving each file's width; see <see cref="HeightColumnName"/>. Default "Width".</summary>
    public string WidthColumnName { get; init; } = "Width";

    /// <summary>Replace files that exist; otherwise an existing file is an error. Default false.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>
/// Writes label maps as PNG files, one per row. A mask's size is the file's size given by the Height and Width
/// columns when the data has them, else the [height, width] of the mask column's type (CrateSegment's masks). A mask of
/// another size than its file is resampled by the pixel-centre rule the evaluators use (each pixel takes the mask cell
/// under its centre), so grid masks of CrateSegment come out at the image's size. Values must be 0–255.
/// </summary>
internal static class PngMaskWriter
{
    internal static IReadOnlyList<string> Write(IDataView data, string directory, string maskColumnName, string? nameColumnName, PngMaskWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        LabelMapColumn mask = LabelMapColumn.Find(data.Schema, maskColumnName, "mask");
        if (mask.Planes != 1)
            throw new ArgumentException($"The mask column '{maskColumnName}' has type {mask.Column.Type}: {mask.Planes} masks a row, where one is expected.", nameof(maskColumnName));
        DataViewSchema.Column? name = null;
        if (nameColumnName is not null)
        {
            name = data.Schema.GetColumnOrNull(nameColumnName) ?? throw new ArgumentOutOfRangeException(nameof(nameColumnName), nameColumnName,
                $"The data has no name column '{nameColumnName}'; pass null to number the files.");
            if (name.Value.Type is not TextDataViewType)
                throw new ArgumentException($"The name column '{nameColumnName}' is {name.Value.Type}, not text.", nameof(nameColumnName));
        }
        DataViewSchema.Column? height = SizeColumn(data.Schema, options.HeightColumnName), width = SizeColumn(data.Schema, options.WidthColumnName);
        bool sized = height is not null && width is not null;
        if (!sized && mask.Shape is null)
            throw new ArgumentException($"The mask column '{maskColumnName}' has no [height, width] shape in its type and the data has no Int32 " +
                $"'{options.HeightColumnName}' and '{options.WidthColumnName}' columns to give the files' size.", nameof(maskColumnName));

        string folder = Path.GetFullPath(directory);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var columns = new List<DataViewSchema.Column> { mask.Column };
        if (name is not null) columns.Add(name.Value);
        if (sized) columns.AddRange([height!.Value, width!.Value]);
        using DataViewRowCursor cursor = data.GetRowCursor(columns.Distinct());
        Func<int[]> readMask = mask.CreateReader(cursor);
        ValueGetter<ReadOnlyMemory<char>>? getName = name is null ? null : cursor.GetGetter<ReadOnlyMemory<char>>(name.Value);
        ValueGetter<int>? getHeight = sized ? cursor.GetGetter<int>(height!.Value) : null, getWidth = sized ? cursor.GetGetter<int>(width!.Value) : null;
        bool isBoolean = ((VectorDataViewType)mask.Column.Type).ItemType is BooleanDataViewType;
        while (cursor.MoveNext())
        {
            ReadOnlyMemory<char> text = default;
            getName?.Invoke(ref text);
            string fileName = getName is null ? $"{cursor.Position:D6}" : text.ToString();
            string record = $"row {cursor.Position}" + (getName is null ? "" : $" ({fileName})");
            if (fileName.Length == 0 || fileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || fileName is "." or "..")
                throw new InvalidDataException($"{record}: '{fileName}' cannot be a file name.");
            if (!seen.Add(fileName)) throw new InvalidDataException($"{record}: a previous row has the same name '{fileName}'; its mask would be overwritten.");
            int[] values = readMask();
            int rows, cols;
            if (sized)
            {
                rows = cols = 0;
                getHeight!(ref rows);
                getWidth!(ref cols);
                if (rows <= 0 || cols <= 0) throw new InvalidDataException($"{record}: the size columns give {cols}×{rows}.");
            }
            else (rows, cols) = mask.Shape!.Value;
            int[]? cellOf = null;
            if (values.Length != rows * cols)
            {
                if (mask.Shape is not (int h, int w) || h * w != values.Length)
                    throw new InvalidDataException($"{record}: the mask has {values.Length} entries, not {cols}×{rows}, and its type gives no [height, width] to resample from.");
                cellOf = TruthShape.CellMap(rows, cols, h, w);
            }
            var pixels = new byte[rows * cols];
            for (int i = 0; i < pixels.Length; i++)
            {
                int value = values[cellOf is null ? i : cellOf[i]];
                if (isBoolean) value = value != 0 ? options.ForegroundValue : 0;
                if ((uint)value > 255) throw new InvalidDataException($"{record}: mask value {value} does not fit an 8-bit PNG.");
                pixels[i] = (byte)value;
            }
            string path = Path.Combine(folder, fileName + ".png");
            if (!options.Overwrite && File.Exists(path)) throw new IOException($"{record}: '{path}' exists; set Overwrite to replace it.");
            PngLabelMap.Write(path, new LabelMap(rows, cols, pixels), options.Palette);
            written.Add(path);
        }
        return written;
    }

    private static DataViewSchema.Column? SizeColumn(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name) is DataViewSchema.Column column && column.Type == NumberDataViewType.Int32 ? column : null;
}
