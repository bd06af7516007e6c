using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Tests;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

/// <summary>
/// <c>--cuda-check</c>: everything that runs differently on a GPU, once, small, on the chosen device, each result
/// against the same work on the CPU in this process: training in float32 and in bfloat16, every read-out, one placed
/// copy shared by a loaded pipeline's transforms, ONNX export, and memory (live tensors and the driver's free memory)
/// before and after. build/cuda-check.sh runs it against TorchSharp-cuda-linux; on a machine without a GPU
/// (<c>--device cpu</c>) the same checks run on the CPU, which shows that the check itself works. Prints a Markdown
/// table; exits 1 when a check fails.
/// </summary>
internal static class CudaCheck
{
    private const int Side = 32, Classes = 3;

    public static int Run(ComputeDevice requested)
    {
        Device device = ComputeDeviceSelector.Resolve(requested, out string reason);
        Console.WriteLine($"# Crate.Benchmarks --cuda-check — {DateTime.UtcNow:yyyy-MM-dd}, device {device} ({reason})");
        Console.WriteLine();
        if (device.type == TorchSharp.DeviceType.CUDA)
        {
            (int Major, int Minor)? capability = CudaDriver.ComputeCapability(Math.Max(device.index, 0));
            CudaDriver.SupportsBFloat16(device, out string bfloat16Reason);
            Console.WriteLine($"Compute capability {(capability is var (ma, mi) ? $"{ma}.{mi}" : "unknown")}; bfloat16: {bfloat16Reason}");
        }
        else
        {
            Console.WriteLine("No GPU in use: every check below runs on the CPU (the fallback path; nothing here measures a GPU).");
        }
        Console.WriteLine();
        Console.WriteLine("| check | result | measured |");
        Console.WriteLine("|---|---|---|");

        var context = new MLContext(seed: 1);
        var log = new List<string>();
        context.Log += (_, e) => { lock (log) log.Add(e.Message); };
        // The trainer tests' textured images (TinyImages, linked into this project), at 32×32.
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(96, seed: 1, Side, Side), Side, Side);
        IDataView test = TinyImages.Keyed(context, TinyImages.Rows(24, seed: 2, Side, Side), Side, Side);
        int failures = 0;
        void Report(string check, bool ok, string measured)
        {
            if (!ok) failures++;
            Console.WriteLine($"| {check} | {(ok ? "ok" : "FAILED")} | {measured} |");
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long tensorsBefore = TorchSharp.torch.Tensor.TotalCount;
        long? freeBefore = FreeBytes(device);

        CrateClassifierTransformer Train(bool mixed, out double seconds, out double loss)
        {
            CrateTrainerOptions options = new()
            {
                ModelSize = CrateModelSize.Custom, EmbeddingDim = 64, Depth = 2, Heads = 2, HeadDim = 32, PatchSize = 4,
                ImageHeight = Side, ImageWidth = Side, Epochs = 3, BatchSize = 16, LearningRate = 2e-3, WarmupEpochs = 0,
                RandomResizedCrop = false, HorizontalFlip = false, Seed = 5, Device = requested, GradientClipNorm = 1.0,
                Initialization = CrateInitialization.Reference, MixedPrecision = mixed,
                MixedPrecisionOnCpu = mixed && device.type != TorchSharp.DeviceType.CUDA,
                Normalization = new ImageNormalization { Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f] },
            };
            double last = double.NaN;
            options.Progress = p => { if (p.IsEpochEnd) last = p.Loss; };
            var clock = Stopwatch.StartNew();
            CrateClassifierTransformer fitted = context.MulticlassClassification.Trainers.Crate(options).Fit(train);
            seconds = clock.Elapsed.TotalSeconds;
            loss = last;
            return fitted;
        }

        using CrateClassifierTransformer float32 = Train(mixed: false, out double float32Seconds, out double float32Loss);
        double float32Accuracy = context.MulticlassClassification.Evaluate(float32.Transform(test)).MicroAccuracy;
        Report("training, float32", float32Loss < Math.Log(Classes),
            $"{96 * 3 / float32Seconds:F0} images/s, last epoch's loss {float32Loss:F3} (ln 3 = {Math.Log(Classes):F3}), test accuracy {float32Accuracy:P0}");

        string[] before = log.ToArray();
        using (CrateClassifierTransformer mixed = Train(mixed: true, out double mixedSeconds, out double mixedLoss))
        {
            string? line = log.Skip(before.Length).FirstOrDefault(m => m.Contains("Mixed precision", StringComparison.Ordinal));
            bool floats = mixed.Model.parameters().All(p => p.dtype == ScalarType.Float32);
            Report("training, bfloat16 mixed precision", floats && line is not null && mixedLoss < Math.Log(Classes),
                $"{96 * 3 / mixedSeconds:F0} images/s ({float32Seconds / mixedSeconds:F2}× float32), loss {mixedLoss:F3}; log: \"{line}\"");
        }

        // Every read-out on the device against the same read-out on the CPU.
        CrateNetworkSource source = CrateNetworkSource.FromFittedModel(float32);
        ImageNormalization normalization = float32.Settings.Normalization;
        (string Name, string Column, Func<ComputeDevice, ComputePrecision, ITransformer> Make)[] readouts =
        [
            ("CrateAttention", "Attention", (d, p) => context.Transforms.CrateAttention(source, new CrateAttentionOptions
                { Normalization = normalization, Device = d, Precision = p }).Fit(test)),
            ("CrateSegment", "Mask", (d, p) => context.Transforms.CrateSegment(source, new CrateSegmentOptions
                { Normalization = normalization, Device = d, Precision = p }).Fit(test)),
            ("CrateMaskCut", "MaskCutScores", (d, p) => context.Transforms.CrateMaskCut(source, new CrateMaskCutOptions
                { Normalization = normalization, Device = d, Precision = p, ImageHeight = Side, ImageWidth = Side }).Fit(test)),
            // The foreground: the RGB map's colours depend on the sign each fit gives its principal components.
            ("CratePcaFeatures", "Foreground", (d, p) => context.Transforms.CratePcaFeatures(source, new CratePcaFeaturesOptions
                { Normalization = normalization, Device = d, Precision = p }).Fit(test)),
            ("CratePatchEmbedding", "PatchTokens", (d, p) => context.Transforms.CratePatchEmbedding(source, new CratePatchEmbeddingOptions
                { Normalization = normalization, Device = d, Precision = p }).Fit(test)),
        ];
        bool bf16 = device.type != TorchSharp.DeviceType.CUDA || CudaDriver.SupportsBFloat16(device, out _);
        foreach ((string name, string column, Func<ComputeDevice, ComputePrecision, ITransformer> make) in readouts)
        {
            bool isMask = column is "Mask" or "Foreground";
            double[] expected = Run(make(ComputeDevice.Cpu, ComputePrecision.Float32), test, column);
            double[] actual = Run(make(requested, ComputePrecision.Float32), test, column);
            string measured = $"against the CPU: {Compare(expected, actual, isMask)}";
            if (bf16)
                measured += $"; in bfloat16: {Compare(expected, Run(make(requested, ComputePrecision.BFloat16), test, column), isMask)}";
            // float32 kernels differ in summation order between devices; masks may flip at a threshold.
            Report($"{name} float32", isMask ? Fraction(expected, actual) >= 0.99 : MaxDifference(expected, actual) < 1e-3, measured);
        }
        double[] scores = Run(float32, test, "Score");

        // A loaded pipeline: one copy of the network on the device, shared by its read-outs.
        string directory = Directory.CreateTempSubdirectory("crate-cuda-check-").FullName;
        try
        {
            string pipelinePath = Path.Combine(directory, "pipeline.zip");
            ITransformer attentionToSave = readouts[0].Make(requested, ComputePrecision.Float32), maskCutToSave = readouts[2].Make(requested, ComputePrecision.Float32);
            try
            {
                CratePipelineFile.Save(context, new TransformerChain<ITransformer>(float32, attentionToSave, maskCutToSave), test.Schema, pipelinePath);
            }
            finally
            {
                ((IDisposable)attentionToSave).Dispose();
                ((IDisposable)maskCutToSave).Dispose();
            }
            int copiesBefore = NetworkLease.PlacedCopies;
            var clock = Stopwatch.StartNew();
            using (var loaded = (TransformerChain<ITransformer>)CratePipelineFile.Load(new MLContext(seed: 2), pipelinePath, out _))
            {
                double loadSeconds = clock.Elapsed.TotalSeconds;
                ITransformer[] parts = loaded.ToArray();
                var attention = (CrateAttentionTransformer)parts[1];
                var maskCut = (CrateMaskCutTransformer)parts[2];
                bool shared = ReferenceEquals(attention.Model, maskCut.Model);
                double difference = MaxDifference(scores, Run(loaded, test, "Score"));
                Report("pipeline load", shared && difference < 1e-4,
                    $"{loadSeconds:F2} s; read-outs share one network: {shared} ({NetworkLease.PlacedCopies - copiesBefore} placed copies); " +
                    $"scores differ from before saving by {difference:G3}");
            }

            // ONNX export, run by ONNX Runtime on the CPU, against the classifier's scores.
            string onnxPath = Path.Combine(directory, "classifier.onnx");
            float32.ExportToOnnx(onnxPath);
            float[] pixels = test.GetColumn<float[]>("Image").SelectMany(p => p).ToArray();
            using var session = new InferenceSession(onnxPath);
            var input = new[] { NamedOnnxValue.CreateFromTensor(CrateOnnxExporter.ImageInput, new DenseTensor<float>(pixels, [pixels.Length / (3 * Side * Side), 3, Side, Side])) };
            using var results = session.Run(input);
            double[] onnx = results.First(r => r.Name == CrateOnnxExporter.ProbabilitiesOutput).AsEnumerable<float>().Select(v => (double)v).ToArray();
            double onnxDifference = MaxDifference(scores, onnx);
            Report("ONNX export", onnxDifference < 1e-4, $"ONNX Runtime's probabilities differ from the classifier's by {onnxDifference:G3}");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        float32.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long? freeAfter = FreeBytes(device);
        Report("memory after everything is disposed", true,
            $"TorchSharp tensors alive: {TorchSharp.torch.Tensor.TotalCount - tensorsBefore:+#;-#;0} (TorchSharp's count keeps one per Parameter built)" +
            (freeBefore is long b && freeAfter is long a ? $"; GPU free memory {b / 1048576.0:F0} → {a / 1048576.0:F0} MiB (libtorch caches freed blocks)" : ""));
        Console.WriteLine();
        Console.WriteLine(failures == 0 ? "All checks passed." : $"{failures} check(s) failed.");
        return failures == 0 ? 0 : 1;
    }

    private static long? FreeBytes(Device device) =>
        device.type == TorchSharp.DeviceType.CUDA && CudaDriver.MemoryInfo() is var (free, _) ? free : null;

    private static double[] Run(ITransformer transformer, IDataView data, string column)
    {
        try
        {
            IDataView output = transformer.Transform(data);
            DataViewType type = output.Schema[column].Type;
            return ((type as VectorDataViewType)?.ItemType ?? type).RawType == typeof(bool)
                ? output.GetColumn<bool[]>(column).SelectMany(v => v).Select(v => v ? 1.0 : 0.0).ToArray()
                : output.GetColumn<float[]>(column).SelectMany(v => v).Select(v => (double)v).ToArray();
        }
        finally
        {
            if (transformer is IDisposable disposable and not CrateClassifierTransformer and not TransformerChain<ITransformer>) disposable.Dispose();
        }
    }

    private static string Compare(double[] expected, double[] actual, bool isMask) =>
        expected.Length != actual.Length ? $"{actual.Length} values where the CPU gives {expected.Length}"
        : isMask ? $"{Fraction(expected, actual):P2} of {expected.Length} mask cells agree"
        : $"largest difference {MaxDifference(expected, actual):G3} over {expected.Length} values";

    private static double MaxDifference(double[] a, double[] b) =>
        a.Length != b.Length ? double.PositiveInfinity : a.Zip(b, (x, y) => Math.Abs(x - y)).DefaultIfEmpty(0).Max();

    private static double Fraction(double[] a, double[] b) =>
        a.Length != b.Length || a.Length == 0 ? 0 : a.Zip(b).Count(p => p.First == p.Second) / (double)a.Length;
}
