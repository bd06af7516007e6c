using System.Diagnostics;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Network;
using Microsoft.ML;

/// <summary>
/// Training throughput of the whole trainer (data stream, forward, backward, optimizer) on the embedded dataset,
/// its achieved GFLOP/s against the matrix-product baseline, and the working set at epoch ends (which must stay
/// flat: a leak of tensors would make it grow).
/// </summary>
internal static class TrainingBenchmark
{
    public static void Run(ComputeDevice device, double matmulGflops, int epochs, int images, bool quick)
    {
        Console.WriteLine("| model | image | batch | training images/s | GFLOP/image (fwd+bwd) | GFLOP/s | share of matmul rate |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Measure("CRATE-T/8", 32, batch: 64, count: quick ? 512 : 2048, device, matmulGflops);
        Measure("CRATE-T/16", 224, batch: 32, count: quick ? 64 : 256, device, matmulGflops);
        Console.WriteLine();
        WorkingSet(device, epochs, images);
    }

    private static CrateTrainerOptions Options(int patch, int size, int batch, int epochs, ComputeDevice device) => new()
    {
        ModelSize = CrateModelSize.Tiny, PatchSize = patch, ImageHeight = size, ImageWidth = size, Epochs = epochs, BatchSize = batch,
        Device = device, WarmupEpochs = 0, LogEverySteps = int.MaxValue,
    };

    private static void Measure(string name, int size, int batch, int count, ComputeDevice device, double matmulGflops)
    {
        var context = new MLContext(seed: 0);
        IDataView data = Keyed(context, new ShapesDatasetOptions { ImageWidth = size, ImageHeight = size, Count = count });
        CrateTrainerOptions options = Options(name.EndsWith("/8") ? 8 : 16, size, batch, epochs: 2, device);
        double imagesPerSecond = 0;
        // The second epoch's rate: the first one pays for warm-up.
        options.Progress = p => { if (p.IsEpochEnd) imagesPerSecond = p.ImagesPerSecond; };
        options.LogEverySteps = int.MaxValue;
        context.MulticlassClassification.Trainers.Crate(options).Fit(data);
        // Backward costs about twice the forward's matrix products.
        double flops = 3 * CrateFlops.ForwardPerImage(options.ToArchitecture(6), size, size);
        double gflops = flops * imagesPerSecond / 1e9;
        Console.WriteLine($"| {name} | {size} | {batch} | {imagesPerSecond:F1} | {flops / 1e9:F3} | {gflops:F1} | {gflops / matmulGflops:P0} |");
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
