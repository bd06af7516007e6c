using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// Base of Crate.MLNet's fitted transforms: lazy, batched <see cref="Transform"/>, PredictionEngine support,
/// and, for subclasses that implement <see cref="ICratePersistable"/>, saving through <see cref="CratePipelineFile"/> (ML.NET's own <c>mlContext.Model.Save</c> cannot save
/// third-party transformers, so <see cref="ICanSaveModel.Save"/> explains where to go instead).
/// </summary>
public abstract class NetworkTransformer<TInput, TResult> : ITransformer
{
    /// <summary>Only Crate.MLNet's own transformers derive from this class (its mapper is internal).</summary>
    private protected NetworkTransformer()
    {
    }

    /// <summary>The mapper for rows of <paramref name="inputSchema"/>; throws when a required column is missing or mistyped.</summary>
    private protected abstract NetworkRowMapper<TInput, TResult> CreateMapper(DataViewSchema inputSchema);

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => CreateMapper(inputSchema).OutputSchema;

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new NetworkDataView<TInput, TResult>(input, CreateMapper(input.Schema));
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        new NetworkRowToRowMapper<TInput, TResult>(CreateMapper(inputSchema));

    /// <summary>Writes the transformer into a pipeline file (see <see cref="ICratePersistable"/>).</summary>
    public abstract void SaveTo(CratePipelineWriter writer);

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException(
            $"{GetType().Name} cannot be saved by mlContext.Model.Save, which accepts only ML.NET's own transformers. " +
            "Use CratePipelineFile.Save(mlContext, model, inputSchema, path) and CratePipelineFile.Load(mlContext, path, out inputSchema): " +
            "they save pipelines that mix ML.NET's transforms with Crate.MLNet's into one file.");
}
