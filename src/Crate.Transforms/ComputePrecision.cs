using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>The element type a network computes in. Never hard-coded: read-outs expose this choice next to the device.</summary>
public enum ComputePrecision
{
    /// <summary>32-bit floats, the weights' own type.</summary>
    Float32,

    /// <summary>bfloat16: half the memory and bandwidth, float32's range, about three significant digits.</summary>
    BFloat16,

    /// <summary>IEEE half precision.</summary>
    Float16,

    /// <summary>64-bit floats, for checking the others.</summary>
    Float64,
}

/// <summary>Turns a <see cref="ComputePrecision"/> into TorchSharp's element type.</summary>
internal static class ComputePrecisionExtensions
{
    /// <summary>The TorchSharp element type of <paramref name="precision"/>.</summary>
    public static ScalarType ToScalarType(this ComputePrecision precision) => precision switch
    {
        ComputePrecision.Float32 => ScalarType.Float32,
        ComputePrecision.BFloat16 => ScalarType.BFloat16,
        ComputePrecision.Float16 => ScalarType.Float16,
        ComputePrecision.Float64 => ScalarType.Float64,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };
}
