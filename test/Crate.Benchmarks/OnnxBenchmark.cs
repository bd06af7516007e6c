using System.Diagnostics;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;

/// <summary>
/// Forward speed of an exported CRATE in ONNX Runtime (CPU) against the TorchSharp network it came from, same
/// weights, same images, same thread count, in one process. The two engines run alternately, one forward pass
/// each in turn, so both meet the same moments of a shared machine's load; each keeps its fastest pass. This is
/// repeated in rounds, and the spread of the rounds' ratios shows the noise that is left. ONNX Runtime's pool does
/// not spin between runs, so neither engine's idle threads take the cores from the other's turn.
/// </summary>
internal static class OnnxBenchmark
{
    private const int Rounds = 3;

    public static void Run(TimeSpan budget)
    {
        int threads = get_num_threads();
        Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} on the CPU against TorchSharp, the same number of threads each " +
            $"(1, and TorchSharp's default {threads}); best of alternating runs, {Rounds} rounds of {budget.TotalSeconds:F0} s or 3 runs each.");
        Console.WriteLine();
        Console.WriteLine("| model | image | batch | threads | TorchSharp images/s | ONNX Runtime images/s | ONNX Runtime / TorchSharp (rounds) | max \\|Δ logits\\| |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach ((string name, CrateArchitecture architecture) in new[] { ("CRATE-T/16", CrateArchitecture.Tiny()), ("CRATE-S/16", CrateArchitecture.Small()) })
        {
            using var model = new CrateModel(architecture);
            model.eval();
            byte[] onnx;
            using (var stream = new MemoryStream())
            {
                CrateOnnxExporter.Export(model, stream);
                onnx = stream.ToArray();
            }
            foreach (int threadCount in new[] { 1, threads }.Distinct())
            {
                set_num_threads(threadCount);
                using var options = new SessionOptions { IntraOpNumThreads = threadCount, InterOpNumThreads = 1 };
                // ONNX Runtime's idle pool threads spin for a while after each run, holding the cores TorchSharp's next
                // pass needs: with spinning, TorchSharp's two-thread batch-1 rate here halved (19.3 against 37.0 images/s)
                // while ONNX Runtime's own did not move (34.4 against 35.9). Alternation needs an engine that yields.
                options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
                using var session = new InferenceSession(onnx, options);
                foreach (int batch in new[] { 1, 32 })
                    Measure(name, model, session, batch, threadCount, budget);
            }
            set_num_threads(threads);
        }
    }

    private static void Measure(string name, CrateModel model, InferenceSession session, int batch, int threads, TimeSpan budget)
    {
        using Tensor images = randn(batch, 3, 224, 224);
        float[] pixels = images.data<float>().ToArray();
        var input = new[] { NamedOnnxValue.CreateFromTensor(CrateOnnxExporter.ImageInput, new DenseTensor<float>(pixels, [batch, 3, 224, 224])) };
        string[] outputs = [CrateOnnxExporter.LogitsOutput];
        float[] ortLogits;
        using (var results = session.Run(input, outputs)) ortLogits = results.First().AsTensor<float>().ToArray();
        float[] torchLogits;
        using (Tensor logits = model.forward(images)) torchLogits = logits.data<float>().ToArray();
        double difference = ortLogits.Zip(torchLogits).Max(p => Math.Abs(p.First - p.Second));

        var torchRates = new List<double>();
        var ortRates = new List<double>();
        for (int round = 0; round < Rounds; round++)
        {
            (double torchSeconds, double ortSeconds) = BestAlternating(
                () => { using Tensor logits = model.forward(images); },
                () => { using var results = session.Run(input, outputs); }, budget);
            torchRates.Add(batch / torchSeconds);
            ortRates.Add(batch / ortSeconds);
        }
        double[] ratios = ortRates.Zip(torchRates, (o, t) => o / t).Order().ToArray();
        Console.WriteLine($"| {name} | 224 | {batch} | {threads} | {torchRates.Max():F1} | {ortRates.Max():F1} | " +
            $"**{ratios[Rounds / 2]:F2}×** ({string.Join(", ", ratios.Select(r => r.ToString("F2")))}) | {difference:E1} |");
    }

    /// <summary>The fastest pass of each of two actions run in turn (after one warm-up each), for at least three turns and the budget.</summary>
    private static (double First, double Second) BestAlternating(Action first, Action second, TimeSpan budget)
    {
        first();
        second();
        double bestFirst = double.MaxValue, bestSecond = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (int turns = 0; turns < 3 || total.Elapsed < budget; turns++)
        {
            var clock = Stopwatch.StartNew();
            first();
            bestFirst = Math.Min(bestFirst, clock.Elapsed.TotalSeconds);
            clock.Restart();
            second();
            bestSecond = Math.Min(bestSecond, clock.Elapsed.TotalSeconds);
        }
        return (bestFirst, bestSecond);
    }
}
