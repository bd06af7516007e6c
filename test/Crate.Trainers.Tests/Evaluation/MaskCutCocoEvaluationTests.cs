using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests.Evaluation;

/// <summary>
/// Images of the embedded dataset → CrateMaskCut → COCO metrics, against the same metrics computed independently
/// (pixel-counting IoU and a plain AP written out below) on the same detections. An untrained network is enough: the
/// test checks the wiring and the arithmetic, not the model.
/// </summary>
[TestClass]
public sealed class MaskCutCocoEvaluationTests
{
    private const int Size = 32, Images = 8;

    [TestMethod]
    public void PipelineMetricsEqualAnIndependentComputation()
    {
        var context = new MLContext(seed: 0);
        var data = new ShapesDatasetOptions { Count = Images, ImageHeight = Size, ImageWidth = Size, Seed = 5 };
        IDataView images = ShapesDataset.LoadDataView(context, data);
        manual_seed(11);
        using var model = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 32, Depth = 2, Heads = 2, HeadDim = 16, PatchSize = 4, ImageHeight = Size, ImageWidth = Size, ClassCount = 4,
        });
        var options = new CrateMaskCutOptions { ImageHeight = Size, ImageWidth = Size, Device = ComputeDevice.Cpu };
        IDataView cut = context.Transforms.CrateMaskCut(model, options).Fit(images).Transform(images);

        // One pass (the network runs once per image): the dataset's exact object mask, and the transform's masks
        // (count·H·W, mask after mask) and scores.
        Row[] rows = context.Data.CreateEnumerable<Row>(cut, reuseRowObject: false).ToArray();
        Assert.HasCount(Images, rows);

        // The ground truth: one object per image, category 1.
        var imageRecords = Enumerable.Range(1, Images).Select(i => new CocoImage(i, Size, Size, $"{i}.png")).ToList();
        var objects = rows.Select((r, i) => CocoAnnotation.FromMask(i + 1, i + 1, 1, RleMask.FromPixels(r.Mask, Size, Size))).ToList();
        var groundTruth = new CocoDataset(imageRecords, objects, [new CocoCategory(1, "object")]);

        var found = new List<(int Image, BinaryMask Mask, double Score)>();
        var detections = new List<CocoDetection>();
        for (int i = 0; i < Images; i++)
        {
            BinaryMask[] perImage = Enumerable.Range(0, rows[i].MaskCutScores.Length)
                .Select(k => new BinaryMask(Size, Size, rows[i].MaskCutMasks.AsSpan(k * Size * Size, Size * Size))).ToArray();
            detections.AddRange(CocoDetections.FromMasks(i + 1, perImage, rows[i].MaskCutScores.Select(s => (double)s).ToArray()));
            found.AddRange(perImage.Select((m, k) => (i, m, (double)rows[i].MaskCutScores[k])));
        }
        Assert.IsGreaterThan(Images, found.Count, "MaskCut found objects");

        var agnostic = new CocoEvaluationOptions { ClassAgnostic = true };
        CocoMetrics metrics = CocoEvaluation.Evaluate(groundTruth, detections, CocoIouType.Segmentation, agnostic);
        Console.WriteLine(metrics.Summary());

        var truth = rows.Select(r => new BinaryMask(Size, Size, r.Mask)).ToArray();
        (double ap, double ap50, double ap75, double ar100) = PlainAveragePrecision(truth, found);
        Near(ap, metrics.AP, 1e-9, "AP");
        Near(ap50, metrics.AP50, 1e-9, "AP50");
        Near(ap75, metrics.AP75, 1e-9, "AP75");
        Near(ar100, metrics.AR100, 1e-9, "AR100");

        // The same through COCO files: the ground truth and the results as the writers write them.
        string folder = Directory.CreateTempSubdirectory("maskcut-coco-").FullName;
        try
        {
            string gtFile = Path.Combine(folder, "instances.json"), resultsFile = Path.Combine(folder, "results.json");
            groundTruth.Save(gtFile);
            CocoResultsFile.Write(resultsFile, detections);
            CocoMetrics fromFiles = CocoEvaluation.Evaluate(gtFile, resultsFile, CocoIouType.Segmentation, agnostic);
            // Area-independent statistics agree; the area ranges differ by design when a results file has boxes, since
            // pycocotools then files every detection under its box's area rather than its mask's.
            Near(metrics.AP, fromFiles.AP, 1e-12, "AP from files");
            Near(metrics.AP50, fromFiles.AP50, 1e-12, "AP50 from files");
            Near(metrics.AP75, fromFiles.AP75, 1e-12, "AP75 from files");
            Near(metrics.AR1, fromFiles.AR1, 1e-12, "AR1 from files");
            Near(metrics.AR100, fromFiles.AR100, 1e-12, "AR100 from files");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The columns the test reads: the dataset's mask and CrateMaskCut's default output columns.</summary>
    private sealed class Row
    {
        public bool[] Mask { get; set; } = [];

        public bool[] MaskCutMasks { get; set; } = [];

        public float[] MaskCutScores { get; set; } = [];
    }

    /// <summary>|expected − actual| ≤ tolerance, failing on NaN and infinity (which a plain comparison lets through).</summary>
    private static void Near(double expected, double actual, double tolerance, string what)
    {
        if (!double.IsFinite(expected) || !double.IsFinite(actual) || !(Math.Abs(expected - actual) <= tolerance))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R}.");
    }

    /// <summary>
    /// AP and AR for one category written out plainly: IoU by counting pixels; per image, detections in score order each
    /// take the unmatched object of highest IoU ≥ t; all detections ranked by score (ties in image order); precision
    /// made non-increasing from the right and read at the recall points 0, 0.01, …, 1 (0 where recall never gets
    /// there); AP = mean over t ∈ {0.50, …, 0.95} and the points, AR = mean over t of the final recall.
    /// </summary>
    private static (double AP, double AP50, double AP75, double AR100) PlainAveragePrecision(
        BinaryMask[] truth, List<(int Image, BinaryMask Mask, double Score)> found)
    {
        // The thresholds as COCO defines them (numpy's linspace): 0.5 + i·(0.45/9), the last exactly 0.95; recall points i·0.01.
        double[] thresholds = Enumerable.Range(0, 10).Select(i => i == 9 ? 0.95 : i * ((0.95 - 0.5) / 9) + 0.5).ToArray();
        var ranked = found.Select((d, n) => (d, n)).OrderByDescending(x => x.d.Score).ThenBy(x => x.d.Image).ThenBy(x => x.n).Select(x => x.d).ToList();
        var apAt = new double[thresholds.Length];
        var recallAt = new double[thresholds.Length];
        for (int t = 0; t < thresholds.Length; t++)
        {
            var taken = new bool[truth.Length];
            var hits = new List<bool>();
            foreach ((int image, BinaryMask mask, _) in ranked)
            {
                // One object per image here: a hit when it is free and overlaps enough.
                bool hit = !taken[image] && mask.IntersectionOverUnion(truth[image]) >= thresholds[t];
                if (hit) taken[image] = true;
                hits.Add(hit);
            }
            var precision = new double[hits.Count];
            var recall = new double[hits.Count];
            int tp = 0;
            for (int n = 0; n < hits.Count; n++)
            {
                if (hits[n]) tp++;
                precision[n] = (double)tp / (n + 1);
                recall[n] = (double)tp / truth.Length;
            }
            for (int n = hits.Count - 2; n >= 0; n--) precision[n] = Math.Max(precision[n], precision[n + 1]);
            double sum = 0;
            for (int r = 0; r <= 100; r++)
            {
                int first = Array.FindIndex(recall, v => v >= r * 0.01);
                sum += first < 0 ? 0 : precision[first];
            }
            apAt[t] = sum / 101;
            recallAt[t] = hits.Count == 0 ? 0 : recall[^1];
        }
        return (apAt.Average(), apAt[0], apAt[5], recallAt.Average());
    }
}
