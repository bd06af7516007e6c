using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// One input column's values over the rows of a network batch, copied while the input cursor passes them so that
/// they can be served after it has moved on (<see cref="NetworkDataView{TInput,TResult}"/>).
/// </summary>
internal abstract class BufferedColumn
{
    private static readonly MethodInfo ScalarFactory =
        typeof(BufferedColumn).GetMethod(nameof(Scalar), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static readonly MethodInfo VectorFactory =
        typeof(BufferedColumn).GetMethod(nameof(Vector), BindingFlags.NonPublic | BindingFlags.Static)!;

    /// <summary>Copies the current row's value of the column into the buffer.</summary>
    public abstract void Capture();

    /// <summary>Empties the buffer for the next batch.</summary>
    public abstract void Clear();

    /// <summary>A <c>ValueGetter</c> of the buffered value at the slot <paramref name="slot"/> returns.</summary>
    public abstract Delegate CreateGetter(Func<int> slot);

    /// <summary>The buffer of <paramref name="column"/> read from <paramref name="row"/>, copying by the column's raw type.</summary>
    public static BufferedColumn For(DataViewRow row, DataViewSchema.Column column)
    {
        Type raw = column.Type.RawType;
        MethodInfo factory = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? VectorFactory.MakeGenericMethod(raw.GetGenericArguments()[0])
            : ScalarFactory.MakeGenericMethod(raw);
        return (BufferedColumn)factory.Invoke(null, [row, column])!;
    }

    // Text may point into a buffer its source reuses for the next row, so it is copied into a string of its own.
    private static BufferedColumn Scalar<T>(DataViewRow row, DataViewSchema.Column column) =>
        typeof(T) == typeof(ReadOnlyMemory<char>)
            ? new BufferedColumn<ReadOnlyMemory<char>>(row.GetGetter<ReadOnlyMemory<char>>(column), text => text.ToString().AsMemory())
            : new BufferedColumn<T>(row.GetGetter<T>(column), value => value);

    // A VBuffer's arrays are the source's to reuse, so each row gets copies; a getter copies out again, since callers
    // write into the arrays of the VBuffer they pass in.
    private static BufferedColumn Vector<T>(DataViewRow row, DataViewSchema.Column column) =>
        new BufferedColumn<VBuffer<T>>(row.GetGetter<VBuffer<T>>(column), vector =>
        {
            VBuffer<T> copy = default;
            vector.CopyTo(ref copy);
            return copy;
        }, (in VBuffer<T> buffered, ref VBuffer<T> destination) => buffered.CopyTo(ref destination));
}

/// <summary>The buffer of one column whose values are of type <typeparamref name="T"/>.</summary>
internal sealed class BufferedColumn<T>(ValueGetter<T> source, Func<T, T> copy, BufferedColumn<T>.Serve? serve = null) : BufferedColumn
{
    /// <summary>Hands a buffered value to a caller's variable.</summary>
    public delegate void Serve(in T buffered, ref T destination);

    private readonly List<T> values = [];
    private readonly Serve serve = serve ?? ((in T buffered, ref T destination) => destination = buffered);

    public override void Capture()
    {
        T value = default!;
        source(ref value);
        values.Add(copy(value));
    }

    public override void Clear() => values.Clear();

    public override Delegate CreateGetter(Func<int> slot) => (ValueGetter<T>)((ref T destination) => serve(values[slot()], ref destination));
}
