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
/// A COCO tree (two 32×32 images, a bright square on each) through the COCO reader, CrateMaskCut (the PyTorch fixture
/// model crate_square) and <see cref="CocoDetections.FromMaskCut(IDataView, CrateMaskCutOptions?, string, long)"/> to
/// <see cref="CocoEvaluation"/>, naming no column: the detections must be exactly those built here from MaskCut's rows
/// and the reader's image ids, read independently, and the metrics those of the hand-built detections.
/// </summary>
[TestClass]
public sealed class CocoPipelineTests
{
    private const int Side = 32;

    // Image 3 holds a square from (4, 4) to (20, 20), image 8 one from (10, 12) to (30, 28): polygons, category 1.
    private const string Annotations = """
        {
          "images": [{"id": 3, "width": 32, "height": 32, "file_name": "a.png"}, {"id": 8, "width": 32, "height": 32, "file_name": "b.png"}],
          "categories": [{"id": 1, "name": "square"}],
          "annotations": [
            {"id": 1, "image_id": 3, "category_id": 1, "bbox": [4, 4, 16, 16], "area": 256, "iscrowd": 0, "segmentation": [[4, 4, 20, 4, 20, 20, 4, 20]]},
            {"id": 2, "image_id": 8, "category_id": 1, "bbox": [10, 12, 20, 16], "area": 320, "iscrowd": 0, "segmentation": [[10, 12, 30, 12, 30, 28, 10, 28]]}
          ]
        }
        """;

    [TestMethod]
    public void CocoImagesThroughCrateMaskCutToCocoMetricsWithoutNamingAColumn()
    {
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        string annotationFile = scratch.File("instances.json");
        File.WriteAllText(annotationFile, Annotations);
        SaveSquare(scratch.File("a.png"), 4, 4, 20, 20);
        SaveSquare(scratch.File("b.png"), 10, 12, 30, 28);
        var context = new MLContext(seed: 0);
        using CrateModel network = CrateCheckpointImporter.Import(ReferenceFixtures.PathOf("crate_square.pt"), new CheckpointImportOptions { Heads = 4 });

        CocoDataset truth = CocoDataset.Load(annotationFile);
        IDataView images = context.Data.LoadCocoInstances(truth, scratch.Path);
        using CrateMaskCutTransformer maskCut = context.Transforms.CrateMaskCut(network).Fit(images);
        IDataView found = maskCut.Transform(images);
        IReadOnlyList<CocoDetection> detections = CocoDetections.FromMaskCut(found);
        var agnostic = new CocoEvaluationOptions { ClassAgnostic = true };
        CocoMetrics metrics = CocoEvaluation.Evaluate(truth, detections, CocoIouType.Segmentation, agnostic);

        // The same detections by hand: MaskCut's rows through MaskCutPrediction, the ids through their own column.
        long[] ids = found.GetColumn<long>(CocoInstances.ImageId).ToArray();
        MaskCutPrediction[] rows = context.Data.CreateEnumerable<MaskCutPrediction>(found, reuseRowObject: false).ToArray();
        CollectionAssert.AreEqual(new long[] { 3, 8 }, ids);
        var expected = new List<CocoDetection>();
        for (int i = 0; i < rows.Length; i++)
        {
            IReadOnlyList<MaskCutDetection> objects = rows[i].Objects();
            Assert.AreEqual((Side, Side), (rows[i].MaskHeight, rows[i].MaskWidth), "MaskCut's masks at the image's size");
            expected.AddRange(CocoDetections.FromMasks(ids[i], objects.Select(o => o.Mask).ToList(), objects.Select(o => (double)o.Score).ToList()));
        }
        Assert.IsNotEmpty(expected, "MaskCut found objects");
        Assert.HasCount(expected.Count, detections);
        for (int k = 0; k < expected.Count; k++)
        {
            Assert.AreEqual(expected[k].ImageId, detections[k].ImageId, $"detection {k}: image id");
            Assert.AreEqual(1L, detections[k].CategoryId, $"detection {k}: category");
            Assert.AreEqual(expected[k].Score, detections[k].Score, $"detection {k}: score");
            Assert.AreEqual(expected[k].Mask!.ToCompressedString(), detections[k].Mask!.ToCompressedString(), $"detection {k}: mask");
        }
        CocoMetrics byHand = CocoEvaluation.Evaluate(truth, expected, CocoIouType.Segmentation, agnostic);
        Close.AreEqual(byHand.AP, metrics.AP, 0, "AP");
        Close.AreEqual(byHand.AR100, metrics.AR100, 0, "AR100");
    }

    [TestMethod]
    public void FromMaskCutNamesAMissingImageIdColumn()
    {
        var context = new MLContext(seed: 0);
        IDataView rows = context.Data.LoadFromEnumerable(new[] { new MaskCutPrediction() });
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => CocoDetections.FromMaskCut(rows));
        StringAssert.Contains(error.Message, "'ImageId'");
    }

    private static void SaveSquare(string path, int x0, int y0, int x1, int y1)
    {
        var rgba = new byte[Side * Side * 4];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                bool inside = x >= x0 && x < x1 && y >= y0 && y < y1;
                int p = 4 * (y * Side + x);
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = inside ? ((byte)230, (byte)200, (byte)40, (byte)255) : ((byte)20, (byte)40, (byte)90, (byte)255);
            }
        using MLImage image = MLImage.CreateFromPixels(Side, Side, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
    }
}
