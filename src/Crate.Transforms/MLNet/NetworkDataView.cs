using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// The lazy result of a network transform: rows stream from the input and go through the network
/// <see cref="NetworkRowMapper{TInput,TResult}.BatchSize"/> at a time, only when an added column is read.
/// </summary>
/// <remarks>
/// A cursor reads its input through one cursor only, whose active columns are everything it needs (the requested
/// input columns and the network's). A batch is filled by moving that cursor ahead, so the requested input columns of
/// the batch's rows are copied beside the network's inputs (<see cref="BufferedColumn"/>) and served from there. With
/// one input cursor a reader that skips invalid records skips each one once, for every column alike: two cursors
/// with different active columns skip different records and fall out of step, which pairs a result with another
/// row's name or truth.
/// </remarks>
internal sealed class NetworkDataView<TInput, TResult> : IDataView
{
    private readonly IDataView input;
    private readonly NetworkRowMapper<TInput, TResult> mapper;

    public NetworkDataView(IDataView input, NetworkRowMapper<TInput, TResult> mapper)
    {
        this.input = input;
        this.mapper = mapper;
        Schema = mapper.OutputSchema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = new bool[Schema.Count];
        foreach (DataViewSchema.Column column in columnsNeeded) active[column.Index] = true;
        int inputCount = input.Schema.Count;
        IEnumerable<DataViewSchema.Column> inputColumnsNeeded = input.Schema.Where(c => active[c.Index]);
        if (!active.Skip(inputCount).Any(a => a))
            return new PassThroughCursor(Schema, active, input.GetRowCursor(inputColumnsNeeded));
        DataViewRowCursor reading = input.GetRowCursor(inputColumnsNeeded.Concat(mapper.InputColumns).DistinctBy(c => c.Index));
        return new BatchCursor(this, active, reading);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static void CheckActive(bool[] active, DataViewSchema.Column column)
    {
        if (!active[column.Index])
            throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
    }

    /// <summary>No added column is read: the input's rows as they are.</summary>
    private sealed class PassThroughCursor(DataViewSchema schema, bool[] active, DataViewRowCursor input) : DataViewRowCursor
    {
        public override DataViewSchema Schema => schema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override bool MoveNext() => input.MoveNext();

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            CheckActive(active, column);
            return input.GetGetter<TValue>(input.Schema[column.Index]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Fills a batch from one input cursor, runs the network on it, then serves its rows one by one.</summary>
    private sealed class BatchCursor : DataViewRowCursor
    {
        private readonly NetworkDataView<TInput, TResult> view;
        private readonly bool[] active;
        private readonly DataViewRowCursor reading;
        private readonly Func<TInput> readInput;
        private readonly BufferedColumn?[] inputColumns;
        private readonly BufferedColumn<DataViewRowId> ids;
        private readonly List<TInput> batch;
        private IReadOnlyList<TResult> results = [];
        private int current = -1;
        private long position = -1;

        public BatchCursor(NetworkDataView<TInput, TResult> view, bool[] active, DataViewRowCursor reading)
        {
            this.view = view;
            this.active = active;
            this.reading = reading;
            readInput = view.mapper.CreateInputReader(reading);
            DataViewSchema inputSchema = view.input.Schema;
            inputColumns = inputSchema.Select(c => active[c.Index] ? BufferedColumn.For(reading, c) : null).ToArray();
            ids = new BufferedColumn<DataViewRowId>(reading.GetIdGetter(), id => id);
            batch = new List<TInput>(view.mapper.BatchSize);
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (current + 1 >= results.Count && !FillBatch()) return false;
            current++;
            position++;
            return true;
        }

        /// <summary>Reads up to a batch of rows, buffering their requested input columns, and runs the network once.</summary>
        private bool FillBatch()
        {
            batch.Clear();
            ids.Clear();
            foreach (BufferedColumn? column in inputColumns) column?.Clear();
            while (batch.Count < view.mapper.BatchSize && reading.MoveNext())
            {
                batch.Add(readInput());
                ids.Capture();
                foreach (BufferedColumn? column in inputColumns) column?.Capture();
            }
            current = -1;
            if (batch.Count == 0)
            {
                results = [];
                return false;
            }
            results = view.mapper.Run(batch);
            if (results.Count != batch.Count)
                throw new InvalidOperationException($"The network returned {results.Count} results for a batch of {batch.Count} rows.");
            return true;
        }

        private int Current =>
            current >= 0 && current < results.Count ? current : throw new InvalidOperationException("The cursor is not on a row.");

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ValueGetter<DataViewRowId>)ids.CreateGetter(() => Current);

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            CheckActive(active, column);
            if (column.Index < inputColumns.Length)
            {
                BufferedColumn buffered = inputColumns[column.Index]!;
                return buffered.CreateGetter(() => Current) as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
            }
            return (ValueGetter<TValue>)view.mapper.CreateOutputGetter(column.Index - inputColumns.Length, () => results[Current]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) reading.Dispose();
            base.Dispose(disposing);
        }
    }
}
