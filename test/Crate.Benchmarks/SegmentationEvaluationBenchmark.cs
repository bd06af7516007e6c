using System.Diagnostics;
using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>
/// The segmentation evaluators at PASCAL VOC val's scale: 500×375 truth masks of 21 classes with void, predictions on a
/// 30×30 patch grid (CrateSegment at 480×480, patch 16), and CrateAttention maps of 12 layers × 12 heads. Rows are made
/// as they are read; the baseline is one pass of a cursor over the same columns summing every entry, so the ratios show
/// what the evaluators add to reading the data.
/// </summary>
internal static class SegmentationEvaluationBenchmark
{
    private const int Height = 375, Width = 500, Grid = 30, Layers = 12, Heads = 12, Classes = 21;

    private sealed class Row
    {
        [VectorType]
        public byte[] Mask { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }

        [VectorType(Grid, Grid)]
        public byte[] PredictedMask { get; set; } = [];

        [VectorType(Layers, Heads, Grid, Grid)]
        public float[] Attention { get; set; } = [];
    }

    private static IEnumerable<Row> Rows(int count)
    {
        for (int i = 0; i < count; i++)
        {
            var random = new Random(i);
            var mask = new byte[Height * Width];
            // Background with two rectangles of random classes and a void band, roughly as VOC's images look.
            for (int k = 0; k < 2; k++)
            {
                int label = random.Next(1, Classes), top = random.Next(Height / 2), left = random.Next(Width / 2);
                for (int y = top; y < top + Height / 3; y++)
                    for (int x = left; x < left + Width / 3; x++)
                        mask[y * Width + x] = (byte)(y == top || x == left ? 255 : label);
            }
            var prediction = new byte[Grid * Grid];
            for (int c = 0; c < prediction.Length; c++) prediction[c] = (byte)(random.Next(4) == 0 ? random.Next(Classes) : 0);
            var attention = new float[Layers * Heads * Grid * Grid];
            for (int a = 0; a < attention.Length; a++) attention[a] = (float)random.NextDouble();
            yield return new Row { Mask = mask, Height = Height, Width = Width, PredictedMask = prediction, Attention = attention };
        }
    }

    public static void Run(int images)
    {
        var context = new MLContext(seed: 0);
        IDataView data = context.Data.LoadFromEnumerable(Rows(images));
        double Seconds(Action action)
        {
            var clock = Stopwatch.StartNew();
            action();
            return clock.Elapsed.TotalSeconds;
        }
        double baseline = Seconds(() =>
        {
            using DataViewRowCursor cursor = data.GetRowCursor(data.Schema);
            var mask = cursor.GetGetter<VBuffer<byte>>(data.Schema["Mask"]);
            var prediction = cursor.GetGetter<VBuffer<byte>>(data.Schema["PredictedMask"]);
            var attention = cursor.GetGetter<VBuffer<float>>(data.Schema["Attention"]);
            VBuffer<byte> m = default, p = default;
            VBuffer<float> a = default;
            double sum = 0;
            while (cursor.MoveNext())
            {
                mask(ref m);
                prediction(ref p);
                attention(ref a);
                foreach (byte v in m.DenseValues()) sum += v;
                foreach (byte v in p.DenseValues()) sum += v;
                foreach (float v in a.DenseValues()) sum += v;
            }
            if (sum < 0) Console.WriteLine(sum);
        });
        double devkit = Seconds(() => context.MulticlassClassification.EvaluateSegmentation(data, Classes));
        double paper = Seconds(() => context.MulticlassClassification.EvaluateBestHeadSegmentation(data, Classes, headMasksColumnName: "Attention"));
        double dino = Seconds(() => context.MulticlassClassification.EvaluateForegroundJaccard(data, Classes, headMasksColumnName: "Attention"));
        Console.WriteLine($"## Segmentation evaluation, {images} synthetic VOC-sized images ({Width}×{Height}, {Classes} classes, {Grid}×{Grid} grid, {Layers}×{Heads} attention maps)");
        Console.WriteLine();
        Console.WriteLine("| pass | seconds | ms per image | × baseline |");
        Console.WriteLine("|---|---|---|---|");
        foreach ((string name, double seconds) in new[] { ("baseline: read and sum every entry", baseline), ("EvaluateSegmentation (devkit mIoU)", devkit),
            ("EvaluateBestHeadSegmentation (eq. 13-14, top-60 % of 144 maps)", paper), ("EvaluateForegroundJaccard (DINO, 60 % mass of 144 maps)", dino) })
            Console.WriteLine($"| {name} | {seconds:F2} | {1000 * seconds / images:F1} | {seconds / baseline:F2} |");
    }
}
