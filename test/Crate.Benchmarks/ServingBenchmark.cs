using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Crate.SegmentService;
using Crate.Trainers.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Data;

/// <summary>
/// Crate.SegmentService under load: the default model (the Quickstart's network trained on the embedded shapes, MaskCut
/// at 96×96), served in this process on 127.0.0.1, and 1, 4 and 16 clients that each post PNGs to POST /segment, one
/// after another: small images (128×128) and large ones (4096×4096, the largest the default limits accept, about
/// 60 KB each). Prints requests/s and the p50 and p99 latency of each level, the baseline measured first in the same
/// process (the same small predictions on one PredictionEngine, no HTTP), and the process's CPU use and the machine's
/// load average around each level. On a shared machine the process gets the cores other jobs leave it, so requests per
/// CPU-second (requests/s over the cores the process used) is the figure that compares across loads. Then the memory
/// of the large levels: the working set at idle (after the small levels, collected), its peak during the 16 concurrent
/// large uploads (sampled every 20 ms), and 15 s after the burst. <c>--in-flight N</c> sets the service's
/// MaxDecodedPixelsInFlight (default 4096·4096) to compare budgets.
/// Only the loopback is contacted; every loop is bounded by its request count.
/// </summary>
internal static class ServingBenchmark
{
    private const int Side = 128, LargeSide = 4096;

    public static async Task Run(bool quick, long? maxDecodedPixelsInFlight)
    {
        Console.WriteLine($"# Crate.Benchmarks --serving — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, " +
            $"{Environment.ProcessorCount} logical cores, load average before: {LoadAverage()}");
        Console.WriteLine();
        byte[][] images = Pngs(Side, 16, seed: 9), large = [FlatPng(LargeSide, 0), FlatPng(LargeSide, 1)];
        Console.WriteLine($"Large uploads: {string.Join(" and ", large.Select(b => $"{b.Length / 1024} KB"))} PNGs of {LargeSide}×{LargeSide}.");

        // No model file: the service trains the default (or loads it from its cache, as `dotnet run` does).
        string[] arguments = maxDecodedPixelsInFlight is long inFlight
            ? ["--urls", "http://127.0.0.1:0", $"--Segmentation:MaxDecodedPixelsInFlight={inFlight}"]
            : ["--urls", "http://127.0.0.1:0"];
        WebApplication app = SegmentServiceApp.Build(arguments, builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        var clock = Stopwatch.StartNew();
        await app.StartAsync();
        SegmentationModel served = app.Services.GetRequiredService<SegmentationModel>();
        Console.WriteLine($"Serving the {served.Description.Source}; started in {clock.Elapsed.TotalSeconds:F0} s; " +
            $"up to {served.Description.MaxConcurrentPredictions} predictions at once.");
        try
        {
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
            int perLevel = quick ? 16 : 200;

            // Baseline: the same work without HTTP, one prediction at a time on the service's own engine pool.
            var engines = app.Services.GetRequiredService<PredictionEnginePool<ImageInput, SegmentationRow>>();
            MLImage[] decoded = images.Select(b => MLImage.CreateFromStream(new MemoryStream(b))).ToArray();
            for (int i = 0; i < 4; i++) engines.Predict(new ImageInput { Image = decoded[i % decoded.Length] });
            Level direct = Measure(1, perLevel, (_, k) =>
            {
                engines.Predict(new ImageInput { Image = decoded[k % decoded.Length] });
                return Task.CompletedTask;
            });
            foreach (MLImage image in decoded) image.Dispose();

            Console.WriteLine();
            Console.WriteLine("| clients, image | requests | requests/s | p50 ms | p99 ms | vs direct | process CPU | requests per CPU-second | load average after |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            Console.WriteLine(direct.Row("direct (no HTTP)", direct.RequestsPerSecond));
            for (int i = 0; i < 4; i++) await Post(client, images[i]);
            foreach (int clients in new[] { 1, 4, 16 })
            {
                Level level = Measure(clients, perLevel, (_, k) => Post(client, images[k % images.Length]));
                Console.WriteLine(level.Row($"{clients}, {Side}×{Side}", direct.RequestsPerSecond));
            }

            // The large images: the working set at idle, its peak while the levels run, and 15 s after the last burst.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            await Task.Delay(TimeSpan.FromSeconds(2));
            long idle = Environment.WorkingSet, peak = idle, peakOfBurst = idle;
            using var sampling = new CancellationTokenSource();
            Task sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    long now = Environment.WorkingSet;
                    peak = Math.Max(peak, now);
                    peakOfBurst = Math.Max(peakOfBurst, now);
                    await Task.Delay(20);
                }
            });
            foreach (int clients in new[] { 1, 4, 16 })
            {
                peakOfBurst = Environment.WorkingSet;
                Level level = Measure(clients, (quick ? 1 : 2) * clients, (_, k) => Post(client, large[k % large.Length]));
                Console.WriteLine(level.Row($"{clients}, {LargeSide}×{LargeSide}", direct.RequestsPerSecond));
            }
            long burst = peakOfBurst;
            await Task.Delay(TimeSpan.FromSeconds(15));
            long after = Environment.WorkingSet;
            await sampling.CancelAsync();
            await sampler;
            var budget = app.Services.GetRequiredService<DecodedPixelBudget>();
            Console.WriteLine();
            Console.WriteLine($"Memory of the {LargeSide}×{LargeSide} levels (working set; MaxDecodedPixelsInFlight {budget.Capacity}):");
            Console.WriteLine();
            Console.WriteLine("| idle | peak, 16 clients | peak above idle | 15 s after the burst | above idle | compacting collections after large images |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Console.WriteLine($"| {Megabytes(idle)} | {Megabytes(burst)} | {Megabytes(burst - idle)} | {Megabytes(after)} | {Megabytes(after - idle)} | {budget.MemoryReturns} |");
            Console.WriteLine($"(peak over all three large levels {Megabytes(peak)})");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary><paramref name="count"/> embedded shapes images of <paramref name="side"/>² pixels as PNG files' bytes.</summary>
    private static byte[][] Pngs(int side, int count, int seed) => Enumerable.Range(0, count).Select(i =>
    {
        ShapesSample sample = ShapesDataset.Sample(new ShapesDatasetOptions { ImageHeight = side, ImageWidth = side, Count = count, Seed = seed }, i);
        using MLImage image = ShapesDataset.ToImage(sample);
        return Png(image);
    }).ToArray();

    /// <summary>A flat <paramref name="side"/>² picture of one disc and one bar on a plain background, as PNG bytes: the
    /// small file of many pixels that the upload limits let through (the shapes dataset's textures do not compress).</summary>
    private static byte[] FlatPng(int side, int variant)
    {
        var rgba = new byte[4L * side * side];
        float radius = side / (3f + variant), cx = side * 0.4f, cy = side * 0.45f;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius;
                bool bar = x > side * 0.7 && x < side * 0.8 && y > side * 0.1 && y < side * 0.9;
                long at = 4L * ((long)y * side + x);
                (rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]) = disc ? ((byte)220, (byte)60, (byte)40, (byte)255)
                    : bar ? ((byte)30, (byte)90, (byte)200, (byte)255) : ((byte)235, (byte)235, (byte)225, (byte)255);
            }
        using MLImage image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Rgba32, rgba);
        return Png(image);
    }

    /// <summary>An image's PNG file bytes, as MLImage (SkiaSharp) writes them.</summary>
    private static byte[] Png(MLImage image)
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-serving-benchmark-{Guid.NewGuid():N}.png");
        image.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return bytes;
    }

    private static async Task Post(HttpClient client, byte[] png)
    {
        using var body = new ByteArrayContent(png);
        body.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using HttpResponseMessage response = await client.PostAsync("/segment", body);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary><paramref name="total"/> requests shared by <paramref name="clients"/> concurrent loops, each request timed.</summary>
    private static Level Measure(int clients, int total, Func<int, int, Task> request)
    {
        using var self = Process.GetCurrentProcess();
        TimeSpan cpuBefore = self.TotalProcessorTime;
        var latencies = new double[total];
        int next = -1;
        var clock = Stopwatch.StartNew();
        Task.WaitAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            int k;
            while ((k = Interlocked.Increment(ref next)) < total)
            {
                long start = Stopwatch.GetTimestamp();
                await request(c, k);
                latencies[k] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        })).ToArray());
        double seconds = clock.Elapsed.TotalSeconds;
        self.Refresh();
        double cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds / seconds;
        Array.Sort(latencies);
        return new Level(total, total / seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), cpu);
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) => sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Megabytes(long bytes) => $"{bytes / 1e6:F0} MB";

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private sealed record Level(int Requests, double RequestsPerSecond, double P50, double P99, double CpuCores)
    {
        public string Row(string clients, double direct) =>
            $"| {clients} | {Requests} | {RequestsPerSecond:F1} | {P50:F1} | {P99:F1} | {RequestsPerSecond / direct:F2}× | " +
            $"{CpuCores:F2} cores | {RequestsPerSecond / CpuCores:F1} | {LoadAverage()} |";
    }
}
