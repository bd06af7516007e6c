using System.Diagnostics;
using Crate.Trainers.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// Generation rate of the embedded datasets, one thread: images per second and megapixels per second, against the
/// quickstart's ShapesDataset at 32×32 measured in the same run (the baseline). Each figure is the best of three
/// passes after a warm-up pass, the least disturbed measurement on a shared machine.
/// </summary>
internal static class DataBenchmark
{
    public static void Run(bool quick)
    {
        int count = quick ? 300 : 2000;
        Console.WriteLine($"Embedded data generation, {count} images per pass, best of 3 passes after a warm-up pass, one thread:");
        Console.WriteLine();
        Console.WriteLine("| what | image | images/s | megapixels/s | per pixel against the baseline |");
        Console.WriteLine("|---|---|---|---|---|");
        var shapes = new ShapesDatasetOptions { Count = count };
        double baseline = Rate(count, () => ShapesDataset.Generate(shapes).Sum(s => s.Rgb[0]));
        Report("ShapesDataset.Sample (baseline)", 32, baseline, baseline);
        var scenes = new SceneDatasetOptions { Count = count };
        Report("SceneDataset.TrainingImage", 48, Rate(count, () => SceneDataset.GenerateTrainingImages(scenes).Sum(s => s.Rgb[0])), baseline);
        Report("SceneDataset.Scene (1–4 objects)", 48, Rate(count, () => SceneDataset.GenerateScenes(scenes).Sum(s => s.Rgb[0])), baseline);
        var large = scenes with { ImageWidth = 96, ImageHeight = 96, Count = count / 4 };
        Report("SceneDataset.Scene (1–4 objects)", 96, Rate(large.Count, () => SceneDataset.GenerateScenes(large).Sum(s => s.Rgb[0])), baseline);
        var context = new MLContext(seed: 0);
        IDataView training = SceneDataset.LoadTrainingDataView(context, scenes);
        Report("training IDataView, Image and Label read", 48, Rate(count, () => ReadImages(training)), baseline);
        IDataView sceneView = SceneDataset.LoadSceneDataView(context, scenes);
        Report("scene IDataView, every column read", 48, Rate(count, () => ReadAll(sceneView)), baseline);
        Console.WriteLine();

        void Report(string what, int side, double imagesPerSecond, double baselineRate)
        {
            double perPixel = imagesPerSecond * side * side / (baselineRate * 32 * 32);
            Console.WriteLine($"| {what} | {side}×{side} | {imagesPerSecond:F0} | {imagesPerSecond * side * side / 1e6:F2} | {perPixel:F2} |");
        }
    }

    private static double Rate(int images, Func<long> pass)
    {
        GC.KeepAlive(pass()); // warm-up: the JIT's optimised code, not its first tier
        double best = double.MaxValue;
        for (int run = 0; run < 3; run++)
        {
            var clock = Stopwatch.StartNew();
            GC.KeepAlive(pass());
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return images / best;
    }

    private static long ReadImages(IDataView view)
    {
        long sum = 0;
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<MLImage> image = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        ValueGetter<ReadOnlyMemory<char>> label = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["Label"]);
        MLImage picture = null!;
        ReadOnlyMemory<char> name = default;
        while (cursor.MoveNext())
        {
            image(ref picture);
            label(ref name);
            sum += picture.Width + name.Length;
            picture.Dispose();
        }
        return sum;
    }

    private static long ReadAll(IDataView view)
    {
        long sum = 0;
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<MLImage> image = cursor.GetGetter<MLImage>(view.Schema["Image"]);
        ValueGetter<VBuffer<byte>> classes = cursor.GetGetter<VBuffer<byte>>(view.Schema["ClassMask"]);
        ValueGetter<VBuffer<byte>> instances = cursor.GetGetter<VBuffer<byte>>(view.Schema["InstanceMask"]);
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> labels = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view.Schema["Labels"]);
        ValueGetter<VBuffer<float>> boxes = cursor.GetGetter<VBuffer<float>>(view.Schema["Box"]);
        ValueGetter<int> count = cursor.GetGetter<int>(view.Schema["InstanceCount"]);
        MLImage picture = null!;
        VBuffer<byte> c = default, m = default;
        VBuffer<ReadOnlyMemory<char>> names = default;
        VBuffer<float> b = default;
        int n = 0;
        while (cursor.MoveNext())
        {
            image(ref picture);
            classes(ref c);
            instances(ref m);
            labels(ref names);
            boxes(ref b);
            count(ref n);
            sum += picture.Width + c.Length + m.Length + names.Length + b.Length + n;
            picture.Dispose();
        }
        return sum;
    }
}
