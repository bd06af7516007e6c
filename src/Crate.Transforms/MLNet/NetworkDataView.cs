using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// The lazy result of a network transform: rows stream from the input and go through the network
/// <see cref="NetworkRowMapper{TInput,TResult}.BatchSize"/> at a time, only when an added column is read.
/// A cursor keeps two cursors over the input in step: one reads ahead to fill the network's batch, the other
/// serves the current row's own columns, so nothing of the input has to be copied.
/// </summary>
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

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly NetworkDataView<TInput, TResult> view;
        private readonly DataViewRowCursor serving;
        private readonly DataViewRowCursor? reading;
        private readonly Func<TInput>? readInput;
        private readonly bool[] active;
        private IReadOnlyList<TResult> results = [];
        private int current = -1;

        public Cursor(NetworkDataView<TInput, TResult> view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            this.view = view;
            active = new bool[view.Schema.Count];
            foreach (DataViewSchema.Column column in columnsNeeded) active[column.Index] = true;
            int inputCount = view.input.Schema.Count;
            serving = view.input.GetRowCursor(view.input.Schema.Where(c => active[c.Index]));
            if (active.Skip(inputCount).Any(a => a))
            {
                reading = view.input.GetRowCursor(view.mapper.InputColumns);
                readInput = view.mapper.CreateInputReader(reading);
            }
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => serving.Position;

        public override long Batch => serving.Batch;

        public override bool MoveNext()
        {
            if (!serving.MoveNext()) return false;
            if (reading is null) return true;
            if (++current >= results.Count)
            {
                var batch = new List<TInput>(view.mapper.BatchSize);
                while (batch.Count < view.mapper.BatchSize && reading.MoveNext()) batch.Add(readInput!());
                results = view.mapper.Run(batch);
                current = 0;
            }
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => serving.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            int inputCount = view.input.Schema.Count;
            if (column.Index < inputCount)
                return serving.GetGetter<TValue>(view.input.Schema[column.Index]);
            return (ValueGetter<TValue>)view.mapper.CreateOutputGetter(column.Index - inputCount, () => results[current]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                serving.Dispose();
                reading?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
