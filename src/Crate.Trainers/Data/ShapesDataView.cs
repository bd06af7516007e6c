using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Data;

/// <summary>
/// The embedded dataset as an IDataView: Image (MLImage, H × W), Label (text), Mask (H·W booleans). A cursor makes
/// each image when it reaches the row, so the dataset is never held in memory.
/// </summary>
internal sealed class ShapesDataView : IDataView
{
    private readonly ShapesDatasetOptions options;

    public ShapesDataView(ShapesDatasetOptions options)
    {
        this.options = options;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", new ImageDataViewType(options.ImageHeight, options.ImageWidth));
        builder.AddColumn("Label", TextDataViewType.Instance);
        builder.AddColumn("Mask", new VectorDataViewType(BooleanDataViewType.Instance, options.ImageHeight * options.ImageWidth));
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => options.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ShapesDataView view;
        private readonly bool[] active;
        private long position = -1;
        private ShapesSample? sample;

        public Cursor(ShapesDataView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
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
            if (position + 1 >= view.options.Count) return false;
            position++;
            return true;
        }

        private ShapesSample Current => sample ??= ShapesDataset.Sample(view.options, checked((int)position));

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            Delegate getter = column.Index switch
            {
                0 => (ValueGetter<MLImage>)((ref MLImage value) => value = ShapesDataset.ToImage(Current)),
                1 => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = Current.Label.AsMemory()),
                _ => (ValueGetter<VBuffer<bool>>)((ref VBuffer<bool> value) => value = new VBuffer<bool>(Current.Mask.Length, (bool[])Current.Mask.Clone())),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }
    }
}
