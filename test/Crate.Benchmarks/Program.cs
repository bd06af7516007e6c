// Speed of CRATE against the machine's own matrix-product rate, measured in the same process. The unit tests assert
// behaviour only; every figure that depends on the clock comes from here (docs/performance.md, docs/testing.md).
// Usage: dotnet run -c Release --project test/Crate.Benchmarks -- [MODE] [--device cpu|cuda|auto] [--quick] [options]
// Modes (one at a time; none: forward speed of CRATE-T/16, CRATE-S/16, CRATE-S/8 and ISTA's one product against the reference's three):
//   --training [--epochs N] [--images N]   the trainer's speed, data wait and memory
//   --training-emergence                    training speed at the emergence experiment's setting (d 64, 48 px, patch 4, batch 64)
//   --accuracy                              the time a small CRATE takes to learn the embedded dataset
//   --maskcut                               MaskCut after the network at CutLER's input size
//   --onnx                                  ONNX Runtime's forward speed against TorchSharp's
//   --segmentation-evaluation [--images N]  the semantic-segmentation metrics at VOC val's scale
//   --coco [--images N] [--directory D]     COCO evaluation at val2017's scale against parsing the same files
//   --readout maskcut|attention|paths [--batch N] [--images N]   read-outs of CRATE-B/8 at 480×480: images/s, peak memory
//   --streaming [--images N]                N rows through every network transform: working set
//   --shard-stream [--images N]             a shard's stream of N generated images through the read-outs: working set
//   --serving [--in-flight PIXELS]          Crate.SegmentService on 127.0.0.1 at 1, 4 and 16 clients, small and large images:
//                                           requests/s, p50/p99, memory (PIXELS: the service's MaxDecodedPixelsInFlight)
//   --data                                  the embedded datasets' generation rate
//   --cuda-check                            what differs on a GPU, checked against the CPU (build/cuda-check.sh)
//   --plateau key=value ... | --plateau-probe key=value ...   training-recipe study (PlateauStudy.cs, docs/emergence.md)
// Prints Markdown tables for the docs.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Crate.Transforms;
using Crate.Transforms.Network;
using TorchSharp;
using static TorchSharp.torch;

if (args.Length > 0 && args[0] is "--plateau" or "--plateau-probe")
    return PlateauStudy.Run(args[1..], probe: args[0] == "--plateau-probe");

const string Usage = "Usage: [--training [--epochs N] [--images N] | --training-emergence | --accuracy | --maskcut | --onnx | --segmentation-evaluation [--images N] " +
    "| --coco [--images N] [--directory D] | --readout maskcut|attention|paths [--batch N] [--images N] | --streaming [--images N] | --shard-stream [--images N] " +
    "| --serving [--in-flight PIXELS] | --data | --cuda-check] " +
    "[--device cpu|cuda|auto] [--quick]";
string[] modes = ["--training", "--training-emergence", "--accuracy", "--maskcut", "--onnx", "--segmentation-evaluation", "--coco", "--readout", "--streaming", "--shard-stream",
    "--serving", "--data", "--cuda-check"];
var device = ComputeDevice.Cpu;
bool quick = false;
long? inFlight = null;
string? mode = null, readout = null;
int epochs = 20, readoutBatch = 16;
int? images = null;
string cocoDirectory = Path.Combine(Path.GetTempPath(), "crate-coco-benchmark");
for (int i = 0; i < args.Length; i++)
{
    if (modes.Contains(args[i]))
    {
        if (mode is not null)
        {
            Console.Error.WriteLine($"Choose one mode; got {mode} and {args[i]}. {Usage}");
            return 2;
        }
        mode = args[i];
        if (mode == "--readout" && i + 1 < args.Length) readout = args[++i];
    }
    else if (args[i] == "--device" && i + 1 < args.Length) device = Enum.Parse<ComputeDevice>(args[++i], ignoreCase: true);
    else if (args[i] == "--quick") quick = true;
    else if (args[i] == "--in-flight" && i + 1 < args.Length) inFlight = long.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
    else if (args[i] == "--epochs" && i + 1 < args.Length) epochs = int.Parse(args[++i]);
    else if (args[i] == "--images" && i + 1 < args.Length) images = int.Parse(args[++i]);
    else if (args[i] == "--batch" && i + 1 < args.Length) readoutBatch = int.Parse(args[++i]);
    else if (args[i] == "--directory" && i + 1 < args.Length) cocoDirectory = args[++i];
    else
    {
        Console.Error.WriteLine($"Unknown argument '{args[i]}'. {Usage}");
        return 2;
    }
}
switch (mode)
{
    case "--cuda-check":
        return CudaCheck.Run(device);
    case "--data":
        DataBenchmark.Run(quick);
        return 0;
    case "--segmentation-evaluation":
        SegmentationEvaluationBenchmark.Run(images ?? 5000);
        return 0;
    case "--coco":
        // COCO evaluation needs no network; its baseline is parsing the same JSON files.
        Console.WriteLine($"# Crate.Benchmarks --coco — {DateTime.UtcNow:yyyy-MM-dd}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} logical cores");
        Console.WriteLine();
        CocoEvaluationBenchmark.Run(images ?? 5000, cocoDirectory, seed: 2017);
        return 0;
    case "--streaming":
        ReadoutBenchmark.Streaming(images ?? 16);
        return 0;
    case "--shard-stream":
        ShardStreamBenchmark.Run(images ?? 100_000);
        return 0;
    case "--serving":
        // Its baseline is the same predictions without HTTP, measured in the same run.
        await ServingBenchmark.Run(quick, inFlight);
        return 0;
    case "--readout" when readout == "paths":
        ReadoutBenchmark.AttentionPaths(rounds: 3);
        return 0;
    case "--readout" when readout is "maskcut" or "attention":
        ReadoutBenchmark.Run(readout, readoutBatch, images ?? 16);
        return 0;
    case "--readout":
        Console.Error.WriteLine($"--readout takes maskcut, attention or paths. {Usage}");
        return 2;
}
Device target = ComputeDeviceSelector.Resolve(device, out string reason);
TimeSpan budget = TimeSpan.FromSeconds(quick ? 1 : 4);
Console.WriteLine($"# Crate.Benchmarks — {DateTime.UtcNow:yyyy-MM-dd}, {RuntimeInformation.OSDescription}, " +
    $"{Environment.ProcessorCount} logical cores, torch threads {get_num_threads()}, device {target} ({reason})");
Console.WriteLine();

using var noGrad = no_grad();

// Baseline: a large float32 matrix product, the best rate the BLAS reaches here.
const int MatrixSide = 2048;
double matmulFlops = 2.0 * MatrixSide * MatrixSide * MatrixSide;
double matmulSeconds;
using (Tensor a = randn(MatrixSide, MatrixSide, device: target), b = randn(MatrixSide, MatrixSide, device: target))
    matmulSeconds = BestSeconds(() => { using Tensor c = a.matmul(b); Synchronize(c); }, budget);
double matmulGflops = matmulFlops / matmulSeconds / 1e9;
Console.WriteLine($"Matrix product {MatrixSide}³ float32: {matmulGflops:F1} GFLOP/s (the baseline)");
Console.WriteLine();
switch (mode)
{
    case "--onnx":
        OnnxBenchmark.Run(budget);
        return 0;
    case "--training":
    {
        using var withGrad = enable_grad();
        TrainingBenchmark.Run(device, matmulGflops, epochs, images ?? 5000, quick);
        return 0;
    }
    case "--training-emergence":
    {
        using var withGrad = enable_grad();
        TrainingBenchmark.RunEmergence(device, matmulGflops, quick);
        return 0;
    }
    case "--accuracy":
    {
        using var withGrad = enable_grad();
        TrainingBenchmark.TimeToAccuracy(device, matmulSeconds);
        return 0;
    }
    case "--maskcut":
        MaskCutBenchmark.Run(matmulSeconds, quick);
        return 0;
}

// ISTA: the one-product form x·M against the reference's three products, at CRATE-S shapes.
using (var ista = new Ista(576, 0.1, 0.1, softThreshold: false).to(target))
using (Tensor x = randn(32, 197, 576, device: target))
{
    Tensor dictionary = ista.Dictionary;
    double oneProduct = BestSeconds(() => { using Tensor y = ista.forward(x); Synchronize(y); }, budget);
    double threeProducts = BestSeconds(() =>
    {
        using var scope = NewDisposeScope();
        Tensor y = nn.functional.relu(x + 0.1 * (x.matmul(dictionary) - x.matmul(dictionary.t()).matmul(dictionary)) - 0.01);
        Synchronize(y);
    }, budget);
    using Tensor ours = ista.forward(x);
    using Tensor reference = nn.functional.relu(x + 0.1 * (x.matmul(dictionary) - x.matmul(dictionary.t()).matmul(dictionary)) - 0.01);
    Console.WriteLine($"ISTA [32×197×576]: one product {oneProduct * 1000:F1} ms, three products {threeProducts * 1000:F1} ms " +
        $"(speed-up {threeProducts / oneProduct:F2}×, max difference {(ours - reference).abs().max().item<float>():E1})");
    Console.WriteLine();
}

Console.WriteLine("| model | image | batch | images/s | GFLOP/image | GFLOP/s | share of matmul rate |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach ((string name, CrateArchitecture architecture) in new[]
{
    ("CRATE-T/16", CrateArchitecture.Tiny()),
    ("CRATE-S/16", CrateArchitecture.Small()),
    ("CRATE-S/8", CrateArchitecture.Small(patchSize: 8)),
})
{
    using var model = new CrateModel(architecture).to(target);
    model.eval();
    foreach (int batch in new[] { 1, 32 })
    {
        double flopsPerImage = CrateFlops.ForwardPerImage(architecture, 224, 224, imagesPerPass: batch);
        using Tensor batchImages = randn(batch, 3, 224, 224, device: target);
        double seconds = BestSeconds(() => { using Tensor logits = model.forward(batchImages); Synchronize(logits); }, budget);
        double imagesPerSecond = batch / seconds;
        double gflops = flopsPerImage * imagesPerSecond / 1e9;
        Console.WriteLine($"| {name} | 224 | {batch} | {imagesPerSecond:F1} | {flopsPerImage / 1e9:F2} | {gflops:F1} | {gflops / matmulGflops:P0} |");
    }
}
return 0;

// The fastest of repeated runs after a warm-up: the least disturbed measurement of the code itself.
static double BestSeconds(Action run, TimeSpan budget)
{
    run();
    double best = double.MaxValue;
    var total = Stopwatch.StartNew();
    int runs = 0;
    while (runs < 3 || total.Elapsed < budget)
    {
        var clock = Stopwatch.StartNew();
        run();
        best = Math.Min(best, clock.Elapsed.TotalSeconds);
        runs++;
    }
    return best;
}

static void Synchronize(Tensor t)
{
    if (t.device.type == DeviceType.CUDA) cuda.synchronize();
}
