using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.MLNet;

/// <summary>
/// A test-only network transform: adds "Sum" (the sum of a float vector column, times a factor) and records
/// the sizes of the batches it was run on, so the plumbing can be checked against hand-known values.
/// </summary>
internal sealed class SumTransformer(string inputColumn, float factor, int batchSize) : NetworkTransformer<float[], float>, ICratePersistable
{
    public string InputColumn { get; } = inputColumn;

    public float Factor { get; } = factor;

    public int RowsPerBatch { get; } = batchSize;

    public List<int> BatchSizes { get; } = [];

    private protected override NetworkRowMapper<float[], float> CreateMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    public override void SaveTo(CratePipelineWriter writer) => writer.WriteJson("options.json", new Options(InputColumn, Factor, RowsPerBatch));

    public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)
    {
        Options options = reader.ReadJson<Options>("options.json");
        return new SumTransformer(options.InputColumn, options.Factor, options.BatchSize);
    }

    internal sealed record Options(string InputColumn, float Factor, int BatchSize);

    private sealed class Mapper(SumTransformer owner, DataViewSchema schema) : NetworkRowMapper<float[], float>(schema)
    {
        private readonly DataViewSchema.Column input = schema.GetColumnOrNull(owner.InputColumn)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"no column {owner.InputColumn}");

        public override IReadOnlyList<DataViewSchema.Column> InputColumns => [input];

        public override int BatchSize => owner.RowsPerBatch;

        public override void AddOutputColumns(DataViewSchema.Builder builder) => builder.AddColumn("Sum", NumberDataViewType.Single);

        public override Func<float[]> CreateInputReader(DataViewRow row)
        {
            ValueGetter<VBuffer<float>> getter = row.GetGetter<VBuffer<float>>(input);
            VBuffer<float> buffer = default;
            return () =>
            {
                getter(ref buffer);
                return buffer.DenseValues().ToArray();
            };
        }

        public override IReadOnlyList<float> Run(IReadOnlyList<float[]> batch)
        {
            owner.BatchSizes.Add(batch.Count);
            return batch.Select(values => values.Sum() * owner.Factor).ToArray();
        }

        public override Delegate CreateOutputGetter(int outputIndex, Func<float> currentResult) =>
            (ValueGetter<float>)((ref float value) => value = currentResult());
    }
}
