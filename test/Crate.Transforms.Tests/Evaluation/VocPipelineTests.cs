using Crate.Transforms.Checkpoints;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Crate.Transforms.Tests.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>
/// A VOC folder (the fixture's "pipeline" split: 40×24 and 24×32 images with two objects each) through CrateSegment (the PyTorch fixture model crate_square: 4 heads, a 4×4 grid at 32×32) to the
/// VOC devkit's mIoU, the paper's mIoU and DINO's Jaccard at each image's own size, and the masks written as VOC PNGs;
/// every number recomputed here pixel by pixel from the grid masks and the truth. No column is named anywhere: the
/// reader's truth is "Mask", CrateSegment's prediction "PredictedMask", and the evaluators and the writer read both by
/// default (docs/api-tour.md, "Column names").
/// </summary>
[TestClass]
public sealed class VocPipelineTests
{
    [TestMethod]
    public void VocImagesThroughCrateSegmentToTheMetricsAndMaskFilesWithoutNamingAColumn()
    {
        var context = new MLContext(seed: 0);
        CrateModel network = CrateCheckpointImporter.Import(ReferenceFixtures.PathOf("crate_square.pt"), new CheckpointImportOptions { Heads = 4 });
        IDataView voc = context.Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "pipeline");
        IDataView scored = context.Transforms.CrateSegment(network, new CrateSegmentOptions { Device = ComputeDevice.Cpu })
            .Fit(voc).Transform(voc);
        SemanticSegmentationMetrics devkit = context.MulticlassClassification.EvaluateSegmentation(scored, classCount: 21);
        BestHeadSegmentationMetrics paper = context.MulticlassClassification.EvaluateBestHeadSegmentation(scored, classCount: 21);
        BestHeadSegmentationMetrics dino = context.MulticlassClassification.EvaluateForegroundJaccard(scored, classCount: 21);
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        IReadOnlyList<string> files = context.Data.SaveAsPngMasks(scored, scratch.Path);

        bool[][] heads = scored.GetColumn<bool[]>("HeadMasks").ToArray();
        bool[][] merged = scored.GetColumn<bool[]>("PredictedMask").ToArray();
        byte[][] truths = scored.GetColumn<byte[]>("Mask").ToArray();
        int[] heights = scored.GetColumn<int>("Height").ToArray(), widths = scored.GetColumn<int>("Width").ToArray();
        double paperSum = 0, dinoSum = 0;
        var confusion = new long[21, 21];   // VOCevalseg.m: truth × prediction over the pixels that are not void
        for (int i = 0; i < truths.Length; i++)
        {
            int h = heights[i], w = widths[i];
            // The grid cell under pixel (y, x)'s centre.
            bool On(bool[] masks, int offset, int y, int x) => masks[offset + (int)((y + 0.5) * 4 / h) * 4 + (int)((x + 0.5) * 4 / w)];
            double Best(int label, bool dropVoid) => Enumerable.Range(0, 4).Max(k =>
            {
                int both = 0, either = 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        byte t = truths[i][y * w + x];
                        if (dropVoid && t == 255) continue;
                        bool s = t == label, a = On(heads[i], 16 * k, y, x);
                        if (s && a) both++;
                        if (s || a) either++;
                    }
                return (double)both / either;
            });
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (truths[i][y * w + x] != 255)
                        confusion[truths[i][y * w + x], On(merged[i], 0, y, x) ? 1 : 0]++;
            int[] present = truths[i].Where(t => t != 255).Distinct().Select(t => (int)t).ToArray();
            paperSum += present.Average(m => Best(m, dropVoid: true));
            dinoSum += present.Where(m => m != 0).Average(m => Best(m, dropVoid: false));

            LabelMap file = PngLabelMap.Read(files[i]);
            Assert.AreEqual((h, w), (file.Height, file.Width), $"mask file {i} at the image's size");
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    Assert.AreEqual(On(merged[i], 0, y, x) ? 1 : 0, file[y, x], $"file {i} at ({y}, {x})");
        }
        Assert.AreEqual(2L, paper.ImageCount);
        // Classes scored: {0, 15, 12} and {0, 8, 7} for eq. 13, the four objects for DINO; each picks one best head.
        Assert.AreEqual(6L, paper.BestHeadCounts[0].Sum());
        Assert.AreEqual(4L, dino.BestHeadCounts[0].Sum());
        CollectionAssert.AreEqual(new[] { scratch.File("2008_000001.png"), scratch.File("2008_000002.png") }, files.ToArray());
        Close.AreEqual(paperSum / 2, paper.MeanIntersectionOverUnion, 1e-12, "eq. 14");
        var classIou = new List<double>();
        for (int c = 0; c < 21; c++)
        {
            long truthCount = 0, predictedCount = 0;
            for (int k = 0; k < 21; k++) (truthCount, predictedCount) = (truthCount + confusion[c, k], predictedCount + confusion[k, c]);
            if (truthCount + predictedCount > 0) classIou.Add((double)confusion[c, c] / (truthCount + predictedCount - confusion[c, c]));
        }
        Assert.AreEqual(classIou.Count, devkit.PresentClassCount);
        Close.AreEqual(classIou.Average(), devkit.PresentClassesMeanIntersectionOverUnion, 1e-12, "the devkit's mIoU over the classes present");
        Close.AreEqual(dinoSum / 2, dino.MeanIntersectionOverUnion, 1e-12, "DINO's Jaccard");
    }
}
