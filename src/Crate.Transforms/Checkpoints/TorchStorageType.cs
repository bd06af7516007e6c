using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A <c>torch.&lt;Name&gt;Storage</c> class as a checkpoint's pickle names it: an inert descriptor of the element
/// type of the raw bytes in <c>data/&lt;key&gt;</c>. Storage classes this library cannot read (complex, quantised)
/// still resolve, to a descriptor without an element type, so the refusal can name the tensor that uses one.
/// </summary>
internal sealed record TorchStorageType(string Name, ScalarType? ElementType, int ElementSize)
{
    private static readonly Dictionary<string, TorchStorageType> Readable = new TorchStorageType[]
    {
        new("FloatStorage", ScalarType.Float32, 4),
        new("HalfStorage", ScalarType.Float16, 2),
        new("BFloat16Storage", ScalarType.BFloat16, 2),
        new("DoubleStorage", ScalarType.Float64, 8),
        new("LongStorage", ScalarType.Int64, 8),
        new("IntStorage", ScalarType.Int32, 4),
        new("ShortStorage", ScalarType.Int16, 2),
        new("CharStorage", ScalarType.Int8, 1),
        new("ByteStorage", ScalarType.Byte, 1),
        new("BoolStorage", ScalarType.Bool, 1),
    }.ToDictionary(type => type.Name, StringComparer.Ordinal);

    /// <summary>True when the element type is one this library reads.</summary>
    public bool IsReadable => ElementType is not null;

    /// <summary>
    /// The descriptor for the global <c>module.name</c>, or null when it is not a torch storage class. Only the
    /// name is inspected; nothing is looked up or loaded.
    /// </summary>
    public static TorchStorageType? FromGlobal(string module, string name)
    {
        if (module != "torch" || !name.EndsWith("Storage", StringComparison.Ordinal) || !name.All(char.IsAsciiLetterOrDigit))
            return null;
        return Readable.TryGetValue(name, out TorchStorageType? readable) ? readable : new TorchStorageType(name, null, 0);
    }
}
