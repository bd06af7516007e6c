using System.Diagnostics;
using System.Globalization;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// A shard's stream through Crate.SegmentImages' read-outs (docs/scaling.md): N embedded images (32×32, made as the
/// cursor reaches them) through CrateAttention, CrateSegment and CrateMaskCut of a small random CRATE/8, every
/// output read and each image's objects RLE-encoded and appended to a file as a shard's journal is. Prints the
/// process's working set and managed heap every N/20 images (at most every 100): flat means nothing grows with the images. (Which images
/// a shard takes is tested in ShardedSegmentationTests; here every generated image is the shard's.)
/// </summary>
internal static class ShardStreamBenchmark
{
    private const int Side = 32;

    public static void Run(int rows)
    {
        Console.WriteLine($"# Crate.Benchmarks --shard-stream — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} logical cores, {rows} images");
        var context = new MLContext(seed: 0);
        IDataView images = ShapesDataset.LoadDataView(context, new ShapesDatasetOptions { Count = rows, Seed = 1 });
        var architecture = new CrateArchitecture { EmbeddingDim = 48, Depth = 3, Heads = 4, HeadDim = 12, PatchSize = 8, ImageHeight = Side, ImageWidth = Side, ClassCount = 4 };
        using var generator = new TorchSharp.torch.Generator(0);
        using var network = new CrateModel(architecture, generator);
        var cpu = ComputeDevice.Cpu;
        // One input size for the three, as Crate.SegmentImages passes its --size to each: left unset, CrateMaskCut alone
        // would read at CutLER's 60 patches a side (480×480, 3,600 patches), which cost ~0.5 s of this run's ~0.55 s per image.
        using var readouts = context.Transforms.CrateAttention(network, new CrateAttentionOptions { Device = cpu, ImageHeight = Side, ImageWidth = Side })
            .Append(context.Transforms.CrateSegment(network, new CrateSegmentOptions { Device = cpu, HeadMasksColumnName = null, ImageHeight = Side, ImageWidth = Side }))
            .Append(context.Transforms.CrateMaskCut(network, new CrateMaskCutOptions { Device = cpu, ImageHeight = Side, ImageWidth = Side }))
            .Fit(images);
        string journal = Path.GetTempFileName();
        try
        {
            Console.WriteLine();
            Console.WriteLine("| images done | working set (MiB) | managed heap (MiB) | images/s |");
            Console.WriteLine("|---|---|---|---|");
            var clock = Stopwatch.StartNew();
            int done = 0;
            using var lines = new StreamWriter(journal);
            foreach (SegmentedRow row in context.Data.CreateEnumerable<SegmentedRow>(readouts.Transform(images), reuseRowObject: true))
            {
                foreach (MaskCutDetection found in row.Objects())
                    lines.Write(RleMask.FromPixels(found.Mask).ToCompressedString());
                lines.WriteLine();
                done++;
                if (done % Math.Clamp(rows / 20, 1, 100) == 0)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {done:N0} | {WorkingSetMiB()} | {GC.GetTotalMemory(false) >> 20} | {done / clock.Elapsed.TotalSeconds:F1} |"));
            }
        }
        finally
        {
            File.Delete(journal);
        }
    }

    private static long WorkingSetMiB()
    {
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 >> 20;
    }

    private sealed class SegmentedRow : MaskCutPrediction
    {
        public float[] Attention { get; set; } = [];

        public bool[] Mask { get; set; } = [];
    }
}
