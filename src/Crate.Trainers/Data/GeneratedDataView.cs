using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Data;

/// <summary>One column of a <see cref="GeneratedDataView{TSample}"/>: its name, type and how a sample gives its value.</summary>
internal abstract record GeneratedColumn<TSample>(string Name, DataViewType Type)
{
    /// <summary>A ValueGetter of the column's value type that reads the cursor's current sample.</summary>
    public abstract Delegate Getter(Func<TSample> current);
}

/// <summary>A column whose value is <paramref name="Value"/>(sample), a fresh value per call (callers may keep it).</summary>
internal sealed record GeneratedColumn<TSample, TValue>(string Name, DataViewType Type, Func<TSample, TValue> Value)
    : GeneratedColumn<TSample>(Name, Type)
{
    public override Delegate Getter(Func<TSample> current) => (ValueGetter<TValue>)((ref TValue value) => value = Value(current()));
}

/// <summary>
/// A lazy IDataView over generated samples: row i is <c>make(i)</c>, made when a cursor reaches it (and only if a
/// requested column is read), so a dataset is never held in memory. The embedded datasets' views are instances.
/// </summary>
internal sealed class GeneratedDataView<TSample> : IDataView where TSample : class
{
    private readonly int count;
    private readonly Func<int, TSample> make;
    private readonly GeneratedColumn<TSample>[] columns;

    public GeneratedDataView(int count, Func<int, TSample> make, params GeneratedColumn<TSample>[] columns)
    {
        this.count = count;
        this.make = make;
        this.columns = columns;
        var builder = new DataViewSchema.Builder();
        foreach (GeneratedColumn<TSample> column in columns) builder.AddColumn(column.Name, column.Type);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly GeneratedDataView<TSample> view;
        private readonly bool[] active;
        private long position = -1;
        private TSample? sample;

        public Cursor(GeneratedDataView<TSample> view, IEnumerable<DataViewSchema.Column> columnsNeeded)
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
            sample = null;
            if (position + 1 >= view.count) return false;
            position++;
            return true;
        }

        private TSample Current() => sample ??= view.make(checked((int)position));

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            return view.columns[column.Index].Getter(Current) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }
    }
}
