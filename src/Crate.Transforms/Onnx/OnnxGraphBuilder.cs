using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Crate.Transforms.Onnx;

/// <summary>
/// Builds an ONNX graph (OnnxSharp's generated protobuf types) node by node: named initializers, constants,
/// operator nodes whose outputs get unique names under the current <see cref="Scope"/>, and typed graph inputs
/// and outputs. It knows nothing about CRATE; <see cref="CrateOnnxGraph"/> says what to build.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto graph;
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private int counter;

    public OnnxGraphBuilder(string name) => graph = new GraphProto { Name = name };

    /// <summary>Prefix of the names of the nodes added next (for example "layers.3.attention"), so a viewer shows the network's structure.</summary>
    public string Scope { get; set; } = "";

    /// <summary>The graph built so far.</summary>
    public GraphProto Graph => graph;

    /// <summary>Bytes of the initializers added so far.</summary>
    public long InitializerBytes { get; private set; }

    /// <summary>A float32 initializer holding <paramref name="value"/> (copied to the CPU), under <paramref name="name"/>.</summary>
    public string Initializer(string name, Tensor value)
    {
        using var scope = NewDisposeScope();
        Tensor cpu = value.detach().to(ScalarType.Float32, CPU).contiguous();
        float[] values = cpu.data<float>().ToArray();
        var raw = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        var proto = new TensorProto { Name = Claim(name), DataType = (int)TensorProto.Types.DataType.Float, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        proto.Dims.Add(cpu.shape);
        graph.Initializer.Add(proto);
        InitializerBytes += raw.Length;
        return proto.Name;
    }

    /// <summary>A float32 initializer of the given shape.</summary>
    public string Constant(float[] values, params long[] dims)
    {
        var proto = new TensorProto { Name = Claim($"const_{counter++}"), DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.Add(dims);
        proto.FloatData.Add(values);
        graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>A float32 scalar (rank 0).</summary>
    public string Scalar(float value) => Constant([value]);

    /// <summary>An int64 vector [values.Length].</summary>
    public string Int64s(params long[] values)
    {
        var proto = new TensorProto { Name = Claim($"const_{counter++}"), DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.Add(values);
        graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>An int64 scalar (rank 0), as Gather takes for a single index.</summary>
    public string Int64Scalar(long value)
    {
        var proto = new TensorProto { Name = Claim($"const_{counter++}"), DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Int64Data.Add(value);
        graph.Initializer.Add(proto);
        return proto.Name;
    }

    /// <summary>
    /// Adds an <paramref name="op"/> node of the default domain and returns its one output: named
    /// <paramref name="output"/> when given (a graph output), else a fresh name under <see cref="Scope"/>.
    /// An empty input name marks an omitted optional input.
    /// </summary>
    public string Node(string op, string[] inputs, AttributeProto[]? attributes = null, string? output = null)
    {
        string name = Claim($"{(Scope.Length == 0 ? "" : Scope + "/")}{op}_{counter++}");
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(output is null ? name : Claim(output));
        if (attributes is not null) node.Attribute.Add(attributes);
        graph.Node.Add(node);
        return node.Output[0];
    }

    /// <summary>
    /// PyTorch's bicubic interpolation with align_corners false (TorchSharp's InterpolationMode.Bicubic) of
    /// <paramref name="images"/> [N, C, h, w] to <paramref name="sizes"/> (int64 [4]): ONNX's cubic Resize with
    /// PyTorch's coefficient a = −0.75, half-pixel source coordinates, and edge pixels repeated beyond the border
    /// (exclude_outside 0), as PyTorch clamps its taps.
    /// </summary>
    public string BicubicResize(string images, string sizes) =>
        Node("Resize", [images, "", "", sizes],
        [
            Attribute("mode", "cubic"), Attribute("cubic_coeff_a", -0.75f),
            Attribute("coordinate_transformation_mode", "half_pixel"), Attribute("exclude_outside", 0L),
        ]);

    /// <summary>Declares a float32 graph input; a dimension is a size (int or long) or a symbolic name (string).</summary>
    public string Input(string name, params object[] dims)
    {
        graph.Input.Add(FloatValue(Claim(name), dims));
        return name;
    }

    /// <summary>Declares the existing value <paramref name="name"/> a float32 graph output of the given dimensions.</summary>
    public void Output(string name, params object[] dims) => graph.Output.Add(FloatValue(name, dims));

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attribute(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    private static ValueInfoProto FloatValue(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"A dimension is a size or a symbolic name, not {dim.GetType().Name}.", nameof(dims)),
            });
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    private string Claim(string name) =>
        names.Add(name) ? name : throw new InvalidOperationException($"The ONNX graph already has a value named '{name}'.");
}
