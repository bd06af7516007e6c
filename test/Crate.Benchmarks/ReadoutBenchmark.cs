using System.Diagnostics;
using Crate.Trainers;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// The read-outs at the paper's MaskCut setting: CRATE-B/8 (random weights) at 480×480, a 60×60 patch grid, through
/// CrateMaskCut or CrateAttention. Prints images/s and the process's peak working set (VmHWM), which is why each
/// read-out runs in a process of its own. <see cref="Streaming"/> streams many rows through every network transform
/// and samples the working set, which must stay flat.
/// </summary>
internal static class ReadoutBenchmark
{
    private const int Side = 480;

    public static void Run(string readout, int batch, int images)
    {
        var context = new MLContext(seed: 0);
        var random = new Random(0);
        var rows = Enumerable.Range(0, images).Select(_ =>
        {
            var pixels = new float[3 * Side * Side];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)random.NextDouble();
            return new ImageRow { Image = pixels };
        }).ToArray();
        IDataView data = context.Data.LoadFromEnumerable(rows);
        using var model = new CrateModel(CrateArchitecture.Base(patchSize: 8));
        model.eval();
        long afterModel = WorkingSetMiB();
        IDataView output = Apply(context, readout, model, batch, data, out string[] columns);
        var clock = Stopwatch.StartNew();
        long rowsRead = 0;
        using (DataViewRowCursor cursor = output.GetRowCursor(columns.Select(c => output.Schema[c])))
        {
            var getters = columns.Select(c => Reader(cursor, output.Schema[c])).ToArray();
            while (cursor.MoveNext())
            {
                foreach (Action get in getters) get();
                rowsRead++;
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine($"| {readout} | {Side} | {batch} | {rowsRead} | {rowsRead / seconds:F3} | {afterModel} | {self.PeakWorkingSet64 >> 20} |");
    }

    private static IDataView Apply(MLContext context, string readout, CrateModel model, int batch, IDataView data, out string[] columns)
    {
        if (readout == "maskcut")
        {
            var options = new CrateMaskCutOptions { BatchSize = batch, Device = ComputeDevice.Cpu };
            columns = [options.MasksColumnName, options.BoxesColumnName, options.ScoresColumnName];
            return context.Transforms.CrateMaskCut(model, options).Fit(data).Transform(data);
        }
        var attention = new CrateAttentionOptions { BatchSize = batch, Device = ComputeDevice.Cpu, ImageHeight = Side, ImageWidth = Side };
        columns = [attention.OutputColumnName];
        return context.Transforms.CrateAttention(model, attention).Fit(data).Transform(data);
    }

    /// <summary>
    /// The cost of one layer's [CLS] rows at CRATE-B/8, 480×480, one image, in one process: Introspect asked for the
    /// full (N+1)×(N+1) attention (what every read-out built before) against Introspect asked for the [CLS] rows only,
    /// alternating, best of each. The ratio is the speed the change gives; both run the same network and images.
    /// </summary>
    public static void AttentionPaths(int rounds)
    {
        using var generator = new TorchSharp.torch.Generator(0);
        using var model = new CrateModel(CrateArchitecture.Base(patchSize: 8), generator);
        using var noGrad = TorchSharp.torch.no_grad();
        using TorchSharp.torch.Tensor image = TorchSharp.torch.rand([1, 3, Side, Side], generator: generator);
        var full = new IntrospectionRequest { Layers = [10], Attention = true, ClsAttention = true, Sparsity = false };
        var rows = new IntrospectionRequest { Layers = [10], ClsAttention = true, Sparsity = false };
        double Seconds(IntrospectionRequest request)
        {
            var clock = Stopwatch.StartNew();
            using CrateIntrospection readout = model.Introspect(image, request);
            return clock.Elapsed.TotalSeconds;
        }
        Seconds(rows); // warm-up
        double bestFull = double.MaxValue, bestRows = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            bestFull = Math.Min(bestFull, Seconds(full));
            bestRows = Math.Min(bestRows, Seconds(rows));
        }
        Console.WriteLine($"CRATE-B/8 at {Side}×{Side}, one image, layer 10 read: full attention {bestFull:F2} s, [CLS] rows only {bestRows:F2} s " +
            $"(speed-up {bestFull / bestRows:F2}×, best of {rounds})");
    }

    /// <summary>
    /// <paramref name="rows"/> rows of PNG files read by LoadImages through all six network transforms at once (patch
    /// embedding, attention, segment, PCA, MaskCut, classifier) on one small CRATE/8 at 64×64, every output column read;
    /// the working set is sampled as the rows go by. A leak of images or tensors would make it grow with the rows.
    /// </summary>
    public static void Streaming(int rows)
    {
        const int side = 64;
        string folder = Directory.CreateTempSubdirectory("crate-streaming-").FullName;
        try
        {
            var random = new Random(1);
            for (int f = 0; f < 50; f++)
            {
                var pixels = new byte[side * side * 4];
                random.NextBytes(pixels);
                for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
                using MLImage image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Rgba32, pixels);
                image.Save(Path.Combine(folder, $"{f}.png"));
            }
            var context = new MLContext(seed: 0);
            IDataView paths = context.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(r => new PathRow { Path = $"{r % 50}.png" }));
            var architecture = new CrateArchitecture { EmbeddingDim = 64, Depth = 4, Heads = 4, HeadDim = 16, PatchSize = 8, ImageHeight = side, ImageWidth = side, ClassCount = 4 };
            using var generator = new TorchSharp.torch.Generator(0);
            using var network = new CrateModel(architecture, generator);
            var classifier = new CrateClassifierTransformer(network, new CrateClassifierSettings
            {
                ImageHeight = side, ImageWidth = side, Device = ComputeDevice.Cpu,
                Labels = new LabelKeyValues("Text", ["a", "b", "c", "d"]),
            });
            var cpu = ComputeDevice.Cpu;
            using var pipeline = context.Transforms.LoadImages("Image", folder, "Path")
                .Append(context.Transforms.CratePatchEmbedding(network, new CratePatchEmbeddingOptions { Device = cpu }))
                .Append(context.Transforms.CrateAttention(network, new CrateAttentionOptions { Device = cpu }))
                .Append(context.Transforms.CrateSegment(network, new CrateSegmentOptions { Device = cpu }))
                .Append(context.Transforms.CratePcaFeatures(network, new CratePcaFeaturesOptions { Device = cpu }))
                .Append(context.Transforms.CrateMaskCut(network, new CrateMaskCutOptions { Device = cpu, ImageHeight = side, ImageWidth = side }))
                .Fit(context.Data.TakeRows(paths, 64));
            IDataView output = classifier.Transform(pipeline.Transform(paths));
            string[] columns = output.Schema.Skip(paths.Schema.Count).Where(c => !c.IsHidden && c.Name != "Image").Select(c => c.Name).ToArray();
            Console.WriteLine($"Columns read: {string.Join(", ", columns)}");
            Console.WriteLine();
            Console.WriteLine("| rows | working set (MiB) | managed heap (MiB) | rows/s |");
            Console.WriteLine("|---|---|---|---|");
            var clock = Stopwatch.StartNew();
            long read = 0;
            using (DataViewRowCursor cursor = output.GetRowCursor(columns.Select(c => output.Schema[c])))
            {
                Action[] getters = columns.Select(c => Reader(cursor, output.Schema[c])).ToArray();
                while (cursor.MoveNext())
                {
                    foreach (Action get in getters) get();
                    if (++read % (rows / 8) == 0)
                        Console.WriteLine($"| {read} | {WorkingSetMiB()} | {GC.GetTotalMemory(false) >> 20} | {read / clock.Elapsed.TotalSeconds:F0} |");
                }
            }
            classifier.Dispose();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    private static Action Reader(DataViewRow row, DataViewSchema.Column column) => column.Type switch
    {
        VectorDataViewType { ItemType: BooleanDataViewType } => Read<VBuffer<bool>>(row, column),
        VectorDataViewType { ItemType: KeyDataViewType } => Read<VBuffer<uint>>(row, column),
        VectorDataViewType => Read<VBuffer<float>>(row, column),
        KeyDataViewType => Read<uint>(row, column),
        _ => Read<int>(row, column),
    };

    private static Action Read<T>(DataViewRow row, DataViewSchema.Column column)
    {
        ValueGetter<T> get = row.GetGetter<T>(column);
        T value = default!;
        return () => get(ref value);
    }

    private static long WorkingSetMiB()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64 >> 20;
    }

    private sealed class ImageRow
    {
        [VectorType(3, Side, Side)]
        public float[] Image { get; set; } = [];
    }
}
