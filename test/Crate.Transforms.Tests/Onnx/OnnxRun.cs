using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Crate.Transforms.Tests.Onnx;

/// <summary>One output of an ONNX Runtime run: its values, row-major, and its dimensions.</summary>
internal sealed record OnnxOutput(float[] Values, int[] Dimensions);

/// <summary>Runs an exported model in ONNX Runtime on the CPU.</summary>
internal sealed class OnnxRun : IDisposable
{
    private readonly InferenceSession session;

    public OnnxRun(byte[] model) => session = new InferenceSession(model);

    public OnnxRun(string path) => session = new InferenceSession(path);

    /// <summary>The graph's input and output names as ONNX Runtime reads them.</summary>
    public (IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs) Names =>
        (session.InputMetadata.Keys.ToArray(), session.OutputMetadata.Keys.ToArray());

    /// <summary>Runs <paramref name="images"/> [B, C, H, W] through the graph; every output by name.</summary>
    public Dictionary<string, OnnxOutput> Run(float[] images, params int[] shape)
    {
        var input = NamedOnnxValue.CreateFromTensor(Crate.Transforms.Onnx.CrateOnnxExporter.ImageInput, new DenseTensor<float>(images, shape));
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run([input]);
        return results.ToDictionary(r => r.Name, r =>
        {
            Tensor<float> tensor = r.AsTensor<float>();
            return new OnnxOutput(tensor.ToArray(), tensor.Dimensions.ToArray());
        });
    }

    public void Dispose() => session.Dispose();
}
