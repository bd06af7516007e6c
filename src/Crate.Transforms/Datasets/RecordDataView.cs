using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Crate.Transforms.Datasets;

/// <summary>One output column of a <see cref="RecordDataView{TRecord, TRow}"/>: its name, type and how a row yields its value.</summary>
internal sealed class RecordColumn<TRow>
{
    private RecordColumn(string name, DataViewType type, Func<Func<TRow>, Delegate> createGetter, Action<TRow> load)
    {
        Name = name;
        Type = type;
        CreateGetter = createGetter;
        Load = load;
    }

    public string Name { get; }

    public DataViewType Type { get; }

    /// <summary>A ValueGetter over the current row.</summary>
    public Func<Func<TRow>, Delegate> CreateGetter { get; }

    /// <summary>Reads (and discards) the value: what validating a row for this column costs.</summary>
    public Action<TRow> Load { get; }

    /// <summary>A scalar column (text as ReadOnlyMemory&lt;char&gt;, numbers, MLImage).</summary>
    public static RecordColumn<TRow> Scalar<T>(string name, DataViewType type, Func<TRow, T> value) =>
        new(name, type, current => (ValueGetter<T>)((ref T result) => result = value(current())), row => Release(value(row)));

    /// <summary>A vector column: each call hands out a copy, so callers may keep or change it.</summary>
    public static RecordColumn<TRow> Vector<T>(string name, DataViewType type, Func<TRow, T[]> values) =>
        new(name, type, current => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> result) =>
        {
            T[] array = values(current());
            result = new VBuffer<T>(array.Length, (T[])array.Clone());
        }), row => values(row));

    private static void Release<T>(T value)
    {
        if (value is IDisposable disposable) disposable.Dispose();
    }
}

/// <summary>
/// An IDataView over a fixed list of records whose rows are made only when read: the file readers' records (image and
/// mask files) and the embedded datasets' generated samples (record i is the index i). A row is opened when a cursor's
/// getter first asks for it, and at most once per cursor position, so a dataset of any size streams in the memory of
/// one row. A failure names the record; with <c>skipInvalid</c> a cursor first reads the requested columns of each
/// row, and a row that fails is skipped, counted and logged (through the MLContext's log) instead.
/// </summary>
/// <typeparam name="TRecord">What the listing found for one row (names and paths, or an index).</typeparam>
/// <typeparam name="TRow">The row's contents, made from the record by <c>open</c>.</typeparam>
internal sealed class RecordDataView<TRecord, TRow> : IDataView where TRow : class
{
    private readonly IReadOnlyList<TRecord> records;
    private readonly IReadOnlyList<RecordColumn<TRow>> columns;
    private readonly Func<TRecord, TRow> open;
    private readonly Func<TRecord, string> describe;
    private readonly bool skipInvalid;
    private readonly IHostEnvironment environment;
    private readonly string readerName;

    public RecordDataView(IHostEnvironment environment, string readerName, IReadOnlyList<TRecord> records,
        IReadOnlyList<RecordColumn<TRow>> columns, Func<TRecord, TRow> open, Func<TRecord, string> describe, bool skipInvalid)
    {
        this.environment = environment;
        this.readerName = readerName;
        this.records = records;
        this.columns = columns;
        this.open = open;
        this.describe = describe;
        this.skipInvalid = skipInvalid;
        var builder = new DataViewSchema.Builder();
        foreach (RecordColumn<TRow> column in columns) builder.AddColumn(column.Name, column.Type);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    /// <summary>The record count; unknown when invalid rows are skipped, since a skip is only found when the row is read.</summary>
    public long? GetRowCount() => skipInvalid ? null : records.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    /// <summary>Logs a warning through the MLContext's log.</summary>
    internal static void Warn(IHostEnvironment environment, string readerName, string message)
    {
        using IChannel channel = environment.Start(readerName);
        channel.Warning(MessageSensitivity.None, message);
    }

    private Exception Failure(int index, Exception inner) =>
        new InvalidDataException($"{readerName}, record {index} ({describe(records[index])}): {inner.Message}", inner);

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly RecordDataView<TRecord, TRow> view;
        private readonly bool[] active;
        private long position = -1;
        private int index = -1;
        private int skipped;
        private TRow? row;

        public Cursor(RecordDataView<TRecord, TRow> view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            this.view = view;
            active = new bool[view.Schema.Count];
            foreach (DataViewSchema.Column column in columnsNeeded) active[column.Index] = true;
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            while (++index < view.records.Count)
            {
                row = null;
                if (!view.skipInvalid || Validates())
                {
                    position++;
                    return true;
                }
            }
            row = null;
            if (view.skipInvalid && index == view.records.Count && skipped > 0)
                Warn(view.environment, view.readerName, $"{view.readerName}: skipped {skipped} of {view.records.Count} records in this pass (each was logged).");
            index = view.records.Count + 1;
            return false;
        }

        private bool Validates()
        {
            try
            {
                row = view.open(view.records[index]);
                for (int c = 0; c < active.Length; c++)
                    if (active[c]) view.columns[c].Load(row);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                skipped++;
                Warn(view.environment, view.readerName,
                    $"{view.Failure(index, e).Message} Skipped ({skipped} so far in this pass), as the reader's options ask.");
                return false;
            }
        }

        /// <summary>The current row, opened on first use (a generated sample is drawn only if a column is read).</summary>
        private TRow Current()
        {
            if (index < 0 || index >= view.records.Count) throw new InvalidOperationException("The cursor is not on a row.");
            return row ??= view.open(view.records[index]);
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)index, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            var inner = view.columns[column.Index].CreateGetter(Current) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
            return (ref TValue value) =>
            {
                try
                {
                    inner(ref value);
                }
                catch (Exception e) when (e is not OperationCanceledException and not InvalidOperationException)
                {
                    throw view.Failure(index, e);
                }
            };
        }
    }
}
