using Microsoft.ML;

namespace Crate.Transforms.MLNet;

/// <summary>
/// What a network transform computes: which input columns it reads, the columns it adds, and how a batch of
/// rows goes through the network in one pass. <see cref="NetworkDataView{TInput,TResult}"/> streams rows through
/// it in batches; <see cref="NetworkRowToRowMapper{TInput,TResult}"/> serves PredictionEngine one row at a time.
/// </summary>
/// <typeparam name="TInput">What one row contributes to a batch (e.g. its image as floats).</typeparam>
/// <typeparam name="TResult">What the network returns for one row.</typeparam>
internal abstract class NetworkRowMapper<TInput, TResult>
{
    /// <summary>Creates the mapper over rows of <paramref name="inputSchema"/>.</summary>
    protected NetworkRowMapper(DataViewSchema inputSchema)
    {
        InputSchema = inputSchema ?? throw new ArgumentNullException(nameof(inputSchema));
    }

    /// <summary>The schema of the rows the mapper reads.</summary>
    public DataViewSchema InputSchema { get; }

    /// <summary>The input columns the network reads.</summary>
    public abstract IReadOnlyList<DataViewSchema.Column> InputColumns { get; }

    /// <summary>Rows per network pass.</summary>
    public abstract int BatchSize { get; }

    /// <summary>Adds the output columns (names, types, annotations) to <paramref name="builder"/>.</summary>
    public abstract void AddOutputColumns(DataViewSchema.Builder builder);

    /// <summary>A reader of this mapper's input from the current row of <paramref name="row"/>.</summary>
    public abstract Func<TInput> CreateInputReader(DataViewRow row);

    /// <summary>One network pass over <paramref name="batch"/>; one result per row, in order.</summary>
    public abstract IReadOnlyList<TResult> Run(IReadOnlyList<TInput> batch);

    /// <summary>A <c>ValueGetter&lt;T&gt;</c> of the <paramref name="outputIndex"/>-th added column, reading the current row's result.</summary>
    public abstract Delegate CreateOutputGetter(int outputIndex, Func<TResult> currentResult);

    /// <summary>The output schema: the input columns, then the added ones (which hide inputs of the same name).</summary>
    public DataViewSchema OutputSchema
    {
        get
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(InputSchema);
            AddOutputColumns(builder);
            return builder.ToSchema();
        }
    }
}
