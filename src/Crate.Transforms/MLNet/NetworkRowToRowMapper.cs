using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// Row-at-a-time mapping for PredictionEngine: the added columns are computed by a one-row network pass the
/// first time one of them is read at a given row position.
/// </summary>
internal sealed class NetworkRowToRowMapper<TInput, TResult> : IRowToRowMapper
{
    private readonly NetworkRowMapper<TInput, TResult> mapper;

    public NetworkRowToRowMapper(NetworkRowMapper<TInput, TResult> mapper)
    {
        this.mapper = mapper;
        OutputSchema = mapper.OutputSchema;
    }

    public DataViewSchema InputSchema => mapper.InputSchema;

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        int inputCount = InputSchema.Count;
        var needed = new HashSet<int>();
        foreach (DataViewSchema.Column column in dependingColumns)
        {
            if (column.Index < inputCount) needed.Add(column.Index);
            else needed.UnionWith(mapper.InputColumns.Select(c => c.Index));
        }
        return InputSchema.Where(c => needed.Contains(c.Index));
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns);

    private sealed class Row : DataViewRow
    {
        private readonly NetworkRowToRowMapper<TInput, TResult> owner;
        private readonly DataViewRow input;
        private readonly bool[] active;
        private readonly Func<TInput> readInput;
        private long resultPosition = -1;
        private TResult? result;

        public Row(NetworkRowToRowMapper<TInput, TResult> owner, DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            this.owner = owner;
            this.input = input;
            active = new bool[owner.OutputSchema.Count];
            foreach (DataViewSchema.Column column in activeColumns) active[column.Index] = true;
            readInput = owner.mapper.CreateInputReader(input);
        }

        public override DataViewSchema Schema => owner.OutputSchema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = owner.InputSchema.Count;
            if (column.Index < inputCount)
                return input.GetGetter<TValue>(owner.InputSchema[column.Index]);
            return (ValueGetter<TValue>)owner.mapper.CreateOutputGetter(column.Index - inputCount, Current);
        }

        private TResult Current()
        {
            if (resultPosition != input.Position)
            {
                result = owner.mapper.Run([readInput()])[0];
                resultPosition = input.Position;
            }
            return result!;
        }
    }
}
