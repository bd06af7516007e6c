using System.Diagnostics;
using System.Text.Json;
using Crate.Transforms.Evaluation;

/// <summary>
/// COCO evaluation at COCO val2017's size on synthetic files written here from a seed: 5,000 images, about 36,000
/// objects in 80 categories (polygons, 1 % crowd regions in RLE), 100 detections per image with RLE masks. Times
/// reading and evaluating, boxes and masks, against parsing the same files with System.Text.Json (the in-process
/// baseline); pycocotools_timing.py times pycocotools on the same files for docs/evaluation.md.
/// </summary>
internal static class CocoEvaluationBenchmark
{
    public static void Run(int imageCount, string directory, int seed)
    {
        Directory.CreateDirectory(directory);
        string groundTruthFile = Path.Combine(directory, "instances_synthetic.json");
        string boxFile = Path.Combine(directory, "detections_bbox.json");
        string maskFile = Path.Combine(directory, "detections_segm.json");
        var clock = Stopwatch.StartNew();
        (int objects, int detections) = WriteFiles(imageCount, seed, groundTruthFile, boxFile, maskFile);
        Console.WriteLine($"Synthetic COCO (seed {seed}): {imageCount} images, {objects} objects, {detections} detections, written in " +
            $"{clock.Elapsed.TotalSeconds:F1} s to {directory}");
        Console.WriteLine($"File sizes: ground truth {Megabytes(groundTruthFile)}, box results {Megabytes(boxFile)}, mask results {Megabytes(maskFile)}");
        Console.WriteLine($"pycocotools on the same files: python3 test/Crate.Benchmarks/pycocotools_timing.py {directory}");
        Console.WriteLine();

        double parseBoxes = Best(() => Parse(groundTruthFile, boxFile));
        double parseMasks = Best(() => Parse(groundTruthFile, maskFile));
        Console.WriteLine($"Baseline, JsonDocument.Parse of ground truth + results: boxes {parseBoxes:F2} s, masks {parseMasks:F2} s");
        Console.WriteLine();
        Console.WriteLine("Seconds: wall clock (best of 2), and in brackets the process's CPU time (both cores); on a shared machine CPU time is the steadier.");
        Console.WriteLine();
        Console.WriteLine("| IoU type | read files (s) | evaluate (s) | total (s) | total / JSON parse | AP | AP50 |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var statLines = new List<string>();
        foreach ((CocoIouType type, string file, double parse) in new[] { (CocoIouType.BoundingBox, boxFile, parseBoxes), (CocoIouType.Segmentation, maskFile, parseMasks) })
        {
            (double Wall, double Cpu) read = (double.MaxValue, 0), evaluate = (double.MaxValue, 0);
            CocoMetrics metrics = null!;
            for (int run = 0; run < 2; run++)
            {
                GC.Collect();
                var watch = Stopwatch.StartNew();
                TimeSpan cpu = CpuTime();
                CocoDataset groundTruth = CocoDataset.Load(groundTruthFile);
                IReadOnlyList<CocoDetection> results = CocoResultsFile.Read(file, groundTruth);
                if (watch.Elapsed.TotalSeconds < read.Wall) read = (watch.Elapsed.TotalSeconds, (CpuTime() - cpu).TotalSeconds);
                watch.Restart();
                cpu = CpuTime();
                metrics = CocoEvaluation.Evaluate(groundTruth, results, type);
                if (watch.Elapsed.TotalSeconds < evaluate.Wall) evaluate = (watch.Elapsed.TotalSeconds, (CpuTime() - cpu).TotalSeconds);
            }
            Console.WriteLine($"| {type} | {read.Wall:F2} ({read.Cpu:F2}) | {evaluate.Wall:F2} ({evaluate.Cpu:F2}) | " +
                $"{read.Wall + evaluate.Wall:F2} ({read.Cpu + evaluate.Cpu:F2}) | {(read.Wall + evaluate.Wall) / parse:F1}× | {metrics.AP:R} | {metrics.AP50:R} |");
            statLines.Add($"{type} stats: {string.Join(",", metrics.ToArray().Select(v => v.ToString("R")))}");
        }
        Console.WriteLine();
        foreach (string line in statLines) Console.WriteLine(line);
    }

    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static string Megabytes(string path) => $"{new FileInfo(path).Length / 1e6:F0} MB";

    private static void Parse(string groundTruthFile, string resultsFile)
    {
        using JsonDocument a = JsonDocument.Parse(File.ReadAllBytes(groundTruthFile));
        using JsonDocument b = JsonDocument.Parse(File.ReadAllBytes(resultsFile));
    }

    private static double Best(Action run)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>COCO-like sizes, 80 category ids in 1..90 with COCO's gaps, objects of log-uniform size (many small,
    /// as in COCO), detections that are jittered copies of objects (sometimes of the wrong category) or stray blobs.</summary>
    private static (int Objects, int Detections) WriteFiles(int imageCount, int seed, string groundTruthFile, string boxFile, string maskFile)
    {
        var random = new Random(seed);
        (int W, int H)[] sizes = [(640, 480), (480, 640), (640, 427), (427, 640), (500, 375), (640, 640), (612, 612)];
        long[] categoryIds = Enumerable.Range(1, 90).Where(c => c is not (12 or 26 or 29 or 30 or 45 or 66 or 68 or 69 or 71 or 83)).Select(c => (long)c).ToArray();
        var images = new List<CocoImage>();
        var annotations = new List<CocoAnnotation>();
        var detections = new List<CocoDetection>();
        long annotationId = 1;
        for (int i = 0; i < imageCount; i++)
        {
            (int width, int height) = sizes[random.Next(sizes.Length)];
            long imageId = 100_000 + i * 7;
            images.Add(new CocoImage(imageId, width, height, $"{imageId:D12}.jpg"));
            var objects = new List<(long Category, double[] Polygon)>();
            int count = random.Next(1, 14) + (random.NextDouble() < 0.2 ? 1 : 0);
            for (int n = 0; n < count; n++)
            {
                long category = random.NextDouble() < 0.25 ? 1 : categoryIds[random.Next(categoryIds.Length)];
                double radius = Math.Exp(random.NextDouble() * (Math.Log(200) - Math.Log(4)) + Math.Log(4));
                double[] polygon = Star(random, random.NextDouble() * width, random.NextDouble() * height, radius, random.Next(8, 21));
                RleMask mask = RleMask.FromPolygon(polygon, height, width);
                if (mask.Area == 0) continue;
                annotations.Add(new CocoAnnotation(annotationId++, imageId, category, Extent(polygon), mask.Area, false,
                    CocoSegmentation.FromPolygons([polygon])));
                objects.Add((category, polygon));
            }
            if (random.NextDouble() < 0.08)
            {
                // A crowd region as COCO annotates them: RLE, here a rectangle.
                var pixels = new bool[height * width];
                int x0 = random.Next(width / 2), y0 = random.Next(height / 2), w = random.Next(40, width / 2), h = random.Next(40, height / 2);
                for (int y = y0; y < y0 + h; y++)
                    for (int x = x0; x < x0 + w; x++) pixels[y * width + x] = true;
                RleMask crowd = RleMask.FromPixels(pixels, height, width);
                annotations.Add(CocoAnnotation.FromMask(annotationId++, imageId, 1, crowd, isCrowd: true));
            }
            int made = 0;
            foreach ((long category, double[] polygon) in objects)
                for (int copies = random.Next(1, 5); copies > 0 && made < 100; copies--, made++)
                {
                    double scale = 1 + (random.NextDouble() - 0.5) * 0.4, dx = (random.NextDouble() - 0.5) * 10, dy = (random.NextDouble() - 0.5) * 10;
                    double cx = polygon.Where((_, j) => j % 2 == 0).Average(), cy = polygon.Where((_, j) => j % 2 == 1).Average();
                    double[] moved = polygon.Select((v, j) => Math.Round((j % 2 == 0 ? cx + (v - cx) * scale + dx : cy + (v - cy) * scale + dy), 2)).ToArray();
                    long detected = random.NextDouble() < 0.85 ? category : categoryIds[random.Next(categoryIds.Length)];
                    detections.Add(Detection(imageId, detected, Math.Round(random.NextDouble(), 3), RleMask.FromPolygon(moved, height, width)));
                }
            for (; made < 100; made++)
            {
                double radius = Math.Exp(random.NextDouble() * (Math.Log(150) - Math.Log(3)) + Math.Log(3));
                double[] blob = Star(random, random.NextDouble() * width, random.NextDouble() * height, radius, random.Next(6, 13));
                detections.Add(Detection(imageId, categoryIds[random.Next(categoryIds.Length)], Math.Round(random.NextDouble() * 0.6, 3),
                    RleMask.FromPolygon(blob, height, width)));
            }
        }
        new CocoDataset(images, annotations, categoryIds.Select(c => new CocoCategory(c, $"category{c}")).ToList()).Save(groundTruthFile);
        // Box results carry boxes only and mask results masks only, as detectron2 writes them for each evaluation.
        CocoResultsFile.Write(boxFile, detections.Select(d => d with { Mask = null }));
        CocoResultsFile.Write(maskFile, detections.Select(d => d with { Box = null }));
        return (annotations.Count, detections.Count);
    }

    private static CocoDetection Detection(long imageId, long category, double score, RleMask mask) =>
        new(imageId, category, score, mask.BoundingBox(), mask);

    private static double[] Star(Random random, double cx, double cy, double radius, int vertices)
    {
        double[] angles = Enumerable.Range(0, vertices).Select(_ => random.NextDouble() * 2 * Math.PI).Order().ToArray();
        return angles.SelectMany(a =>
        {
            double r = radius * (0.5 + 0.5 * random.NextDouble());
            return new[] { Math.Round(cx + r * Math.Cos(a), 2), Math.Round(cy + r * Math.Sin(a), 2) };
        }).ToArray();
    }

    private static CocoBox Extent(double[] polygon)
    {
        double[] xs = polygon.Where((_, j) => j % 2 == 0).ToArray(), ys = polygon.Where((_, j) => j % 2 == 1).ToArray();
        return new CocoBox(xs.Min(), ys.Min(), xs.Max() - xs.Min(), ys.Max() - ys.Min());
    }
}
