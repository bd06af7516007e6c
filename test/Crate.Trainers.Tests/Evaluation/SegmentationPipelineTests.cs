using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests.Evaluation;

/// <summary>
/// The README's evaluation pipeline on the embedded dataset: images → CrateSegment → the three segmentation metrics,
/// each checked against the same metric computed here directly from the masks the pipeline produced and the dataset's
/// exact masks, pixel by pixel.
/// </summary>
[TestClass]
public sealed class SegmentationPipelineTests
{
    [TestMethod]
    public void EmbeddedImagesThroughCrateSegmentToMiou()
    {
        var context = new MLContext(seed: 0);
        var dataset = new ShapesDatasetOptions { Count = 12, Seed = 3 };
        manual_seed(7);
        // A small untrained CRATE: the masks are arbitrary but deterministic, which is all an exactness check needs.
        using var network = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 32, Depth = 2, Heads = 4, HeadDim = 8, PatchSize = 4, ImageHeight = 32, ImageWidth = 32, ClassCount = 4,
        });
        IDataView images = ShapesDataset.LoadDataView(context, dataset);
        IDataView scored = context.Transforms.CrateSegment(network, new CrateSegmentOptions
        {
            Resolution = MaskResolution.Image, Device = ComputeDevice.Cpu,
        }).Fit(images).Transform(images);

        SemanticSegmentationMetrics voc = context.MulticlassClassification.EvaluateSegmentation(scored, classCount: 2, labelColumnName: "Mask", predictedLabelColumnName: "PredictedMask");
        BestHeadSegmentationMetrics paper = context.MulticlassClassification.EvaluateBestHeadSegmentation(scored, classCount: 2);
        BestHeadSegmentationMetrics dino = context.MulticlassClassification.EvaluateForegroundJaccard(scored, classCount: 2);

        bool[][] predicted = scored.GetColumn<bool[]>("PredictedMask").ToArray();
        bool[][] heads = scored.GetColumn<bool[]>("HeadMasks").ToArray();
        bool[][] truth = Enumerable.Range(0, dataset.Count).Select(i => ShapesDataset.Sample(dataset, i).Mask).ToArray();
        Assert.HasCount(dataset.Count, predicted);

        // Devkit: pooled counts. IoU_c = TP / (TP + FP + FN).
        long[,] n = new long[2, 2];
        for (int i = 0; i < truth.Length; i++)
            for (int p = 0; p < truth[i].Length; p++) n[truth[i][p] ? 1 : 0, predicted[i][p] ? 1 : 0]++;
        double iou0 = (double)n[0, 0] / (n[0, 0] + n[0, 1] + n[1, 0]), iou1 = (double)n[1, 1] / (n[1, 1] + n[1, 0] + n[0, 1]);
        Assert.IsGreaterThan(0L, n[1, 1], "the masks overlap the objects somewhere, so the check is not of zeros");
        Close(iou0, voc.PerClassIntersectionOverUnion[0], "background IoU");
        Close(iou1, voc.PerClassIntersectionOverUnion[1], "object IoU");
        Close((iou0 + iou1) / 2, voc.MeanIntersectionOverUnion, "mIoU");
        Assert.AreEqual(32L * 32 * dataset.Count, voc.CountedPixelCount);

        // Eq. 13-14 (background and object, best head each) and DINO's (object only), per image then averaged.
        int plane = 32 * 32;
        double Iou(bool[] s, bool[] a, int offset)
        {
            int both = 0, either = 0;
            for (int p = 0; p < plane; p++)
            {
                if (s[p] && a[offset + p]) both++;
                if (s[p] || a[offset + p]) either++;
            }
            return (double)both / either;
        }
        double paperSum = 0, dinoSum = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            bool[] background = truth[i].Select(v => !v).ToArray();
            double Best(bool[] s) => Enumerable.Range(0, 4).Max(k => Iou(s, heads[i], k * plane));
            paperSum += (Best(background) + Best(truth[i])) / 2;
            dinoSum += Best(truth[i]);
        }
        Close(paperSum / truth.Length, paper.MeanIntersectionOverUnion, "eq. 14");
        Close(dinoSum / truth.Length, dino.MeanIntersectionOverUnion, "DINO's Jaccard");
        Console.WriteLine($"Untrained CRATE, {dataset.Count} embedded images: devkit mIoU {voc.MeanIntersectionOverUnion:P1}, " +
            $"eq. 14 {paper.MeanIntersectionOverUnion:P1}, DINO Jaccard {dino.MeanIntersectionOverUnion:P1}.");
    }

    private static void Close(double expected, double actual, string what)
    {
        Assert.IsTrue(double.IsFinite(actual), $"{what}: {actual} is not finite.");
        Assert.IsLessThanOrEqualTo(1e-12, Math.Abs(expected - actual), $"{what}: expected {expected:R}, got {actual:R}.");
    }
}
