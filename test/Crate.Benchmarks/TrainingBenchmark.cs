using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Network;
using Microsoft.ML;
using TorchSharp;

/// <summary>
/// Training throughput of the whole trainer (data stream, forward, backward, optimizer) on the embedded dataset,
/// its achieved GFLOP/s against the matrix-product baseline, the share of the time the network waited for the
/// background decoder, how fast the embedded dataset is made, the working set at epoch ends (which must stay flat: a
/// leak of tensors would make it grow), and the time a small CRATE takes to learn the embedded dataset.
/// </summary>
internal static class TrainingBenchmark
{
    public static void Run(ComputeDevice device, double matmulGflops, int epochs, int images, bool quick)
    {
        DatasetRate(quick ? 1000 : 3000);
        Console.WriteLine("| model | image | batch | training images/s | GFLOP/image (fwd+bwd) | GFLOP/s | share of matmul rate | waiting for data |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Measure("CRATE-T/8", 32, batch: 64, count: quick ? 512 : 2048, device, matmulGflops);
        Measure("CRATE-T/16", 224, batch: 32, count: quick ? 64 : 256, device, matmulGflops);
        Console.WriteLine();
        WorkingSet(device, epochs, images);
    }

    /// <summary>The configuration of the README's main job and of the test <c>ASmallCrateLearnsTheDatasetIn16Epochs</c>:
    /// d 64, 4 layers of 4 heads, patch 8, AdamW 3e-3 with a per-step schedule, 16 epochs on 4,000 images.</summary>
    public static void TimeToAccuracy(ComputeDevice device, double matmulSeconds)
    {
        var context = new MLContext(seed: 0);
        var train = new ShapesDatasetOptions { Count = 4000, Seed = 21 };
        var options = new CrateTrainerOptions
        {
            ModelSize = CrateModelSize.Custom, EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 8,
            ImageHeight = 32, ImageWidth = 32, Epochs = 16, BatchSize = 64, Optimizer = CrateOptimizerKind.AdamW, LearningRate = 3e-3,
            WeightDecay = 0.05, WarmupEpochs = 1, Schedule = ScheduleGranularity.PerStep, RandomResizedCrop = false, Seed = 0,
            Device = device, LogEverySteps = int.MaxValue,
        };
        double wait = double.NaN;
        options.Progress = p => { if (p.IsEpochEnd) wait = p.DataWaitFraction; };
        var clock = Stopwatch.StartNew();
        ITransformer model = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(options))
            .Fit(ShapesDataset.LoadDataView(context, train));
        double seconds = clock.Elapsed.TotalSeconds;
        double accuracy = context.MulticlassClassification.Evaluate(model.Transform(ShapesDataset.LoadDataView(context, train with { Count = 400, Seed = 22 })))
            .MicroAccuracy;
        Console.WriteLine("| model | training images | epochs | test accuracy (400 images) | training time (s) | in baseline matrix products | waiting for data |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Console.WriteLine($"| small CRATE/8 (d 64, 4 layers) | {train.Count:N0} | 16 | {accuracy:P1} | {seconds:F0} | {seconds / matmulSeconds:N0} | {wait:P1} |");
    }

    private static void DatasetRate(int count)
    {
        var clock = Stopwatch.StartNew();
        int objects = ShapesDataset.Generate(new ShapesDatasetOptions { Count = count }).Count(s => s.Mask.Any(m => m));
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"Embedded dataset: {objects:N0} images of 32×32 with their masks in {seconds:F2} s ({count / seconds:N0} images/s, one thread).");
        Console.WriteLine();
    }

    private static CrateTrainerOptions Options(int patch, int size, int batch, int epochs, ComputeDevice device) => new()
    {
        ModelSize = CrateModelSize.Tiny, PatchSize = patch, ImageHeight = size, ImageWidth = size, Epochs = epochs, BatchSize = batch,
        Device = device, WarmupEpochs = 0, LogEverySteps = int.MaxValue,
    };

    /// <summary>
    /// The emergence experiment's setting (samples/Crate.Emergence's default recipe: d 64, 4 layers of 4 heads × 16,
    /// patch 4 at 48×48, batches of 64, AdamW, no crops, flips) on the scene dataset's training images, for each
    /// variant: training images/s and their share of the matrix-product rate measured in the same process, first with
    /// the batch whole on libtorch's intra-op threads (<c>NumberOfThreads = 1</c>, the trainer before 2026-12-07), then
    /// with the default, one shard per processor, and the ratio of the two.
    /// </summary>
    public static void RunEmergence(ComputeDevice device, double matmulGflops, bool quick)
    {
        Console.WriteLine($"Emergence setting (d 64, 4 layers of 4 heads, patch 4, 48×48, batch 64, AdamW, the scene dataset's training images; {Environment.ProcessorCount} processors):");
        Console.WriteLine("| model | threads | image | batch | training images/s | GFLOP/image (fwd+bwd) | GFLOP/s | share of matmul rate | waiting for data |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var context = new MLContext(seed: 0);
        IDataView scenes = SceneDataset.LoadTrainingDataView(context, new SceneDatasetOptions { Count = quick ? 640 : 1920, Seed = 1 });
        IDataView data = context.Transforms.Conversion.MapValueToKey("Label").Fit(scenes).Transform(scenes);
        var speedUps = new List<string>();
        foreach (CrateVariant variant in new[] { CrateVariant.Crate, CrateVariant.ViT, CrateVariant.CrateMhsa, CrateVariant.CrateMlp })
        {
            double Rate(int? threads)
            {
                var options = new CrateTrainerOptions
                {
                    ModelSize = CrateModelSize.Custom, EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 4, ImageHeight = 48, ImageWidth = 48,
                    Variant = variant, Epochs = 2, BatchSize = 64, Optimizer = CrateOptimizerKind.AdamW, LearningRate = 2e-3, WarmupEpochs = 0,
                    RandomResizedCrop = false, HorizontalFlip = true, MixedPrecision = false, Device = device, LogEverySteps = int.MaxValue,
                    NumberOfThreads = threads,
                };
                return Measure($"emergence {variant} | {threads?.ToString() ?? "default"}", 48, data, options, classCount: 8, matmulGflops);
            }
            double whole = Rate(1), sharded = Rate(null);
            speedUps.Add($"{variant} {sharded / whole:F2}×");
        }
        Console.WriteLine($"Default against one thread, same process: {string.Join(", ", speedUps)}.");
        Console.WriteLine();
        ProfileStep(quick);
        ProfileBlocks(quick);
    }

    /// <summary>
    /// Where a training step's time goes at the emergence setting, for CRATE and ViT: a hand loop over synthetic
    /// batches timing the forward pass with the loss, the backward pass and the AdamW step apart, beside two
    /// yardsticks measured in the same process: the matrix-product rate at the blocks' own shape (the B·(N+1) = 9,280
    /// tokens × d 64 against a 64×64 weight) and the time of one element-wise pass over a [64, 145, 64] activation.
    /// </summary>
    private static void ProfileStep(bool quick)
    {
        int steps = quick ? 5 : 20;
        using var tokens = torch.randn(64 * 145, 64);
        using var weight = torch.randn(64, 64);
        double gemm = Time(() => torch.mm(tokens, weight).Dispose(), steps * 10);
        double gemmGflops = 2.0 * 64 * 145 * 64 * 64 / gemm / 1e9;
        double elementwise = Time(() => tokens.add(1.0).Dispose(), steps * 10);
        Console.WriteLine($"Step profile (batch 64, 48×48, synthetic images; {steps} steps after 3 of warm-up); yardsticks: a 9,280×64 by 64×64 product " +
            $"{gemm * 1e3:F2} ms ({gemmGflops:F1} GFLOP/s), one element-wise pass over [64, 145, 64] {elementwise * 1e3:F2} ms:");
        Console.WriteLine("| model | forward + loss ms | backward ms | AdamW step ms | step ms | GFLOP/s of the step | share of the same-shape product rate |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (CrateVariant variant in new[] { CrateVariant.Crate, CrateVariant.ViT })
        {
            var architecture = new CrateArchitecture
            {
                EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 4, ImageHeight = 48, ImageWidth = 48, ClassCount = 8, Variant = variant,
            };
            torch.manual_seed(0);
            using var model = new CrateModel(architecture);
            model.train();
            using var optimizer = new Crate.Trainers.Optimization.AdamWOptimizer(model.parameters(), 2e-3, 0.05);
            using var images = torch.randn(64, 3, 48, 48);
            using var labels = torch.randint(0, 8, [64], torch.int64);
            double forward = 0, backward = 0, step = 0;
            for (int i = 0; i < steps + 3; i++)
            {
                using var scope = torch.NewDisposeScope();
                var clock = Stopwatch.StartNew();
                var loss = torch.nn.functional.cross_entropy(model.forward(images), labels, label_smoothing: 0.1);
                double f = clock.Elapsed.TotalSeconds;
                optimizer.ZeroGrad();
                loss.backward();
                double b = clock.Elapsed.TotalSeconds - f;
                optimizer.Step();
                double o = clock.Elapsed.TotalSeconds - f - b;
                if (i < 3) continue;
                (forward, backward, step) = (forward + f / steps, backward + b / steps, step + o / steps);
            }
            double total = forward + backward + step, flops = 64 * 3 * CrateFlops.ForwardPerImage(architecture, 48, 48, imagesPerPass: 64);
            Console.WriteLine($"| {variant} | {forward * 1e3:F1} | {backward * 1e3:F1} | {step * 1e3:F1} | {total * 1e3:F1} | {flops / total / 1e9:F1} | {flops / total / 1e9 / gemmGflops:P0} |");
        }
        Console.WriteLine();
    }

    /// <summary>
    /// The blocks of the emergence setting timed alone, forward and backward (the input's gradient included), at the
    /// whole batch's shape on the process's threads: MSSA, its fused attention, the same attention written out as
    /// softmax(w wᵀ/√p)·w, ISTA and LayerNorm. Then the attention at a shard's shape (32 images) on one thread, as a
    /// training shard runs it, fused against written out; and the batched score product w·wᵀ in float32 against
    /// bfloat16.
    /// </summary>
    private static void ProfileBlocks(bool quick)
    {
        int repeats = quick ? 5 : 20;
        double FwdBwd(Func<torch.Tensor, torch.Tensor> block, params long[] shape)
        {
            using var input = torch.randn(shape);
            return 1e3 * Time(() =>
            {
                using var scope = torch.NewDisposeScope();
                var x = input.detach().requires_grad_(true);
                block(x).sum().backward();
            }, repeats);
        }
        torch.Tensor Written(torch.Tensor w) => w.matmul(w.transpose(-1, -2)).mul(0.25).softmax(-1).matmul(w);
        torch.Tensor Fused(torch.Tensor w) => torch.nn.functional.scaled_dot_product_attention(w, w, w);
        torch.manual_seed(0);
        using var mssa = new MultiHeadSubspaceSelfAttention(64, 4, 16);
        using var ista = new Ista(64, 0.1, 0.1, softThreshold: false);
        using var norm = torch.nn.LayerNorm(64);
        Console.WriteLine($"Blocks alone, forward and backward, ms ({repeats} repeats after 3 of warm-up):");
        Console.WriteLine("| block | shape | threads | ms |");
        Console.WriteLine("|---|---|---|---|");
        int threads = torch.get_num_threads();
        Console.WriteLine($"| MSSA | [64, 145, 64] | {threads} | {FwdBwd(mssa.forward, 64, 145, 64):F2} |");
        Console.WriteLine($"| fused attention | [64, 4, 145, 16] | {threads} | {FwdBwd(Fused, 64, 4, 145, 16):F2} |");
        Console.WriteLine($"| attention written out | [64, 4, 145, 16] | {threads} | {FwdBwd(Written, 64, 4, 145, 16):F2} |");
        Console.WriteLine($"| ISTA (x·M) | [64, 145, 64] | {threads} | {FwdBwd(ista.forward, 64, 145, 64):F2} |");
        Console.WriteLine($"| LayerNorm | [64, 145, 64] | {threads} | {FwdBwd(norm.forward, 64, 145, 64):F2} |");
        // A thread of its own, as a training shard: its count is set from the process's, then to 1; the process's is
        // given back after (as ShardedGradients does).
        (double fused, double written) = (0, 0);
        var shard = new Thread(() =>
        {
            torch.get_num_threads();
            torch.set_num_threads(1);
            (fused, written) = (FwdBwd(Fused, 32, 4, 145, 16), FwdBwd(Written, 32, 4, 145, 16));
        });
        shard.Start();
        shard.Join();
        torch.set_num_threads(threads);
        Console.WriteLine($"| fused attention | [32, 4, 145, 16] | 1 | {fused:F2} |");
        Console.WriteLine($"| attention written out | [32, 4, 145, 16] | 1 | {written:F2} |");
        using var w32 = torch.randn(256, 145, 16);
        using var w16 = w32.to(torch.ScalarType.BFloat16);
        double single = 1e3 * Time(() => w32.bmm(w32.transpose(1, 2)).Dispose(), repeats), half = 1e3 * Time(() => w16.bmm(w16.transpose(1, 2)).Dispose(), repeats);
        Console.WriteLine($"Scores w·wᵀ of [256, 145, 16] (forward only): float32 {single:F2} ms, bfloat16 {half:F2} ms ({single / half:F1}× faster).");
        Console.WriteLine();
    }

    private static double Time(Action action, int repeats)
    {
        for (int i = 0; i < 3; i++) action();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++) action();
        return clock.Elapsed.TotalSeconds / repeats;
    }

    private static void Measure(string name, int size, int batch, int count, ComputeDevice device, double matmulGflops)
    {
        var context = new MLContext(seed: 0);
        IDataView data = Keyed(context, new ShapesDatasetOptions { ImageWidth = size, ImageHeight = size, Count = count });
        Measure(name, size, data, Options(name.EndsWith("/8") ? 8 : 16, size, batch, epochs: 2, device), classCount: 6, matmulGflops);
    }

    /// <summary>Trains two epochs and prints the row; returns the second epoch's images/s.</summary>
    private static double Measure(string name, int size, IDataView data, CrateTrainerOptions options, int classCount, double matmulGflops)
    {
        var context = new MLContext(seed: 0);
        int batch = options.BatchSize;
        double imagesPerSecond = 0, wait = double.NaN;
        // The second epoch's rate: the first one pays for warm-up. The wait is the share of the whole run.
        options.Progress = p =>
        {
            if (!p.IsEpochEnd) return;
            imagesPerSecond = p.ImagesPerSecond;
            wait = p.DataWaitFraction;
        };
        options.LogEverySteps = int.MaxValue;
        context.MulticlassClassification.Trainers.Crate(options).Fit(data);
        // Backward costs about twice the forward's matrix products.
        double flops = 3 * CrateFlops.ForwardPerImage(options.ToArchitecture(classCount), size, size, imagesPerPass: options.BatchSize);
        double gflops = flops * imagesPerSecond / 1e9;
        Console.WriteLine($"| {name} | {size} | {batch} | {imagesPerSecond:F1} | {flops / 1e9:F3} | {gflops:F1} | {gflops / matmulGflops:P0} | {wait:P1} |");
        return imagesPerSecond;
    }

    private static void WorkingSet(ComputeDevice device, int epochs, int images)
    {
        var context = new MLContext(seed: 0);
        IDataView data = Keyed(context, new ShapesDatasetOptions { Count = images });
        // The README's small CRATE (d 64, 4 layers, patch 8): long enough a run to expose a leak, short enough to wait for.
        CrateTrainerOptions options = Options(8, 32, 64, epochs, device);
        options.ModelSize = CrateModelSize.Custom;
        (options.EmbeddingDim, options.Depth, options.Heads, options.HeadDim) = (64, 4, 4, 16);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"Working set while training a small CRATE/8 (d 64, 4 layers) at 32×32 on {images:N0} images for {epochs} epochs:");
        Console.WriteLine("| after epoch | working set (MiB) | peak working set (MiB) | elapsed (s) |");
        Console.WriteLine("|---|---|---|---|");
        options.Progress = p =>
        {
            if (!p.IsEpochEnd || !(p.Epoch is 1 or 5 or 10 or 20 || p.Epoch == epochs)) return;
            using Process self = Process.GetCurrentProcess();
            Console.WriteLine($"| {p.Epoch} | {self.WorkingSet64 / 1048576.0:F0} | {self.PeakWorkingSet64 / 1048576.0:F0} | {clock.Elapsed.TotalSeconds:F0} |");
        };
        context.MulticlassClassification.Trainers.Crate(options).Fit(data);
    }

    private static IDataView Keyed(MLContext context, ShapesDatasetOptions options)
    {
        IDataView data = ShapesDataset.LoadDataView(context, options);
        return context.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }
}
