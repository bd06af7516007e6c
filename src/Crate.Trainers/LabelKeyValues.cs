using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers;

/// <summary>
/// The values behind a key-typed label (its KeyValues annotation), kept so the predicted label carries them
/// and MapKeyToValue turns predictions back into the user's labels. Text, integer and floating-point values
/// are supported; they are stored as invariant strings with their type.
/// </summary>
public sealed record LabelKeyValues(string ValueType, string[] Values)
{
    // ML.NET's names for these annotation kinds (its AnnotationUtils.Kinds is internal).
    private const string KeyValuesKind = "KeyValues";
    private const string SlotNamesKind = "SlotNames";

    /// <summary>Number of classes.</summary>
    public int Count => Values.Length;

    /// <summary>Reads the KeyValues of <paramref name="label"/>, or names the classes "0", "1", ... when it has none.</summary>
    public static LabelKeyValues Of(DataViewSchema.Column label, int classCount)
    {
        DataViewSchema.Annotations annotations = label.Annotations;
        DataViewSchema.Column? keyValues = annotations.Schema.GetColumnOrNull(KeyValuesKind);
        if (keyValues?.Type is VectorDataViewType { ItemType: var item })
        {
            if (item is TextDataViewType) return Read<ReadOnlyMemory<char>>(annotations, "Text", v => v.ToString());
            if (item.RawType == typeof(int)) return Read<int>(annotations, "Int32", v => v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (item.RawType == typeof(uint)) return Read<uint>(annotations, "UInt32", v => v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (item.RawType == typeof(long)) return Read<long>(annotations, "Int64", v => v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (item.RawType == typeof(float)) return Read<float>(annotations, "Single", v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            if (item.RawType == typeof(double)) return Read<double>(annotations, "Double", v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            if (item.RawType == typeof(bool)) return Read<bool>(annotations, "Boolean", v => v.ToString());
        }
        return new LabelKeyValues("Text", Enumerable.Range(0, classCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    /// <summary>Adds these values as the KeyValues annotation of a key column.</summary>
    public void AddTo(DataViewSchema.Annotations.Builder builder)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        switch (ValueType)
        {
            case "Text": Add(builder, TextDataViewType.Instance, Values.Select(v => v.AsMemory()).ToArray()); break;
            case "Int32": Add(builder, NumberDataViewType.Int32, Values.Select(v => int.Parse(v, culture)).ToArray()); break;
            case "UInt32": Add(builder, NumberDataViewType.UInt32, Values.Select(v => uint.Parse(v, culture)).ToArray()); break;
            case "Int64": Add(builder, NumberDataViewType.Int64, Values.Select(v => long.Parse(v, culture)).ToArray()); break;
            case "Single": Add(builder, NumberDataViewType.Single, Values.Select(v => float.Parse(v, culture)).ToArray()); break;
            case "Double": Add(builder, NumberDataViewType.Double, Values.Select(v => double.Parse(v, culture)).ToArray()); break;
            case "Boolean": Add(builder, BooleanDataViewType.Instance, Values.Select(bool.Parse).ToArray()); break;
            default: throw new InvalidDataException($"Unknown label value type '{ValueType}'.");
        }
    }

    /// <summary>Adds these values, as text, as the SlotNames annotation of a vector of one score per class.</summary>
    public void AddSlotNamesTo(DataViewSchema.Annotations.Builder builder)
    {
        ReadOnlyMemory<char>[] names = Values.Select(v => v.AsMemory()).ToArray();
        builder.Add(SlotNamesKind, new VectorDataViewType(TextDataViewType.Instance, names.Length),
            (ref VBuffer<ReadOnlyMemory<char>> buffer) => buffer = new VBuffer<ReadOnlyMemory<char>>(names.Length, names));
    }

    private static LabelKeyValues Read<T>(DataViewSchema.Annotations annotations, string type, Func<T, string> format)
    {
        VBuffer<T> values = default;
        annotations.GetValue(KeyValuesKind, ref values);
        return new LabelKeyValues(type, values.DenseValues().Select(format).ToArray());
    }

    private static void Add<T>(DataViewSchema.Annotations.Builder builder, PrimitiveDataViewType type, T[] values) =>
        builder.Add(KeyValuesKind, new VectorDataViewType(type, values.Length), (ref VBuffer<T> buffer) => buffer = new VBuffer<T>(values.Length, values));
}
