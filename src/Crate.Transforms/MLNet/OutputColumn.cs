using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// One column a network transformer adds: its name, type and annotations, and how a row's result fills it. A
/// transformer lists its columns once; the schema and the getters both come from that list.
/// </summary>
/// <typeparam name="TResult">What the network yields for one row.</typeparam>
internal sealed class OutputColumn<TResult>
{
    private OutputColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations, Func<Func<TResult>, Delegate> createGetter)
    {
        Name = name;
        Type = type;
        Annotations = annotations;
        CreateGetter = createGetter;
    }

    public string Name { get; }

    public DataViewType Type { get; }

    public DataViewSchema.Annotations? Annotations { get; }

    /// <summary>A <c>ValueGetter</c> of the column over the current row's result.</summary>
    public Func<Func<TResult>, Delegate> CreateGetter { get; }

    /// <summary>A vector column filled from an array of the result; the getter reuses the caller's buffer.</summary>
    public static OutputColumn<TResult> Vector<T>(string name, VectorDataViewType type, Func<TResult, T[]> select,
        DataViewSchema.Annotations? annotations = null) =>
        new(name, type, annotations, current => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> value) =>
        {
            T[] values = select(current());
            VBufferEditor<T> editor = VBufferEditor.Create(ref value, values.Length);
            values.AsSpan().CopyTo(editor.Values);
            value = editor.Commit();
        }));

    /// <summary>A scalar column filled from a value of the result.</summary>
    public static OutputColumn<TResult> Scalar<T>(string name, DataViewType type, Func<TResult, T> select,
        DataViewSchema.Annotations? annotations = null) =>
        new(name, type, annotations, current => (ValueGetter<T>)((ref T value) => value = select(current())));
}
