using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// Issue 9, item 3: MaskCut's typed columns (count, mask shape, masks, boxes, scores, key labels) in ML.NET's
/// object-detection convention, read back as <see cref="MaskCutPrediction"/> and scored by ML.NET's own
/// <c>EvaluateObjectDetection</c> against boxes computed by hand from the masks.
/// </summary>
[TestClass]
public sealed class MaskCutColumnsTests
{
    private static readonly CrateMaskCutOptions Options = new()
    {
        Normalization = FixtureImages.Identity, ImageHeight = 32, ImageWidth = 32, Device = ComputeDevice.Cpu,
        Cut = new MaskCutOptions { MinAreaFraction = 0 },
    };

    /// <summary>The tightest box of a row-major mask by a scan: (first column, first row, last column, last row).</summary>
    private static float[] BoxByHand(ReadOnlySpan<bool> mask, int height, int width)
    {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (mask[y * width + x])
                {
                    x0 = Math.Min(x0, x); y0 = Math.Min(y0, y); x1 = Math.Max(x1, x); y1 = Math.Max(y1, y);
                }
        return [x0, y0, x1, y1];
    }

    [TestMethod]
    public void ColumnsAreTypedAndAgreeWithEachOther()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        using CrateModel model = FixtureImages.Import();
        using CrateMaskCutTransformer fitted = context.Transforms.CrateMaskCut(model, Options).Fit(data);
        IDataView output = fitted.Transform(data);
        DataViewSchema schema = output.Schema;
        Assert.AreEqual(NumberDataViewType.Int32, schema["MaskCutCount"].Type);
        Assert.AreEqual(NumberDataViewType.Int32, schema["MaskCutMaskHeight"].Type);
        Assert.AreEqual(NumberDataViewType.Int32, schema["MaskCutMaskWidth"].Type);
        Assert.AreEqual(new VectorDataViewType(BooleanDataViewType.Instance), schema["MaskCutMasks"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["MaskCutBoxes"].Type);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["MaskCutScores"].Type);
        var labels = (VectorDataViewType)schema["MaskCutLabels"].Type;
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 1), labels.ItemType);
        VBuffer<ReadOnlyMemory<char>> keyValues = default;
        schema["MaskCutLabels"].GetKeyValues(ref keyValues);
        Assert.AreEqual("object", keyValues.DenseValues().Single().ToString());

        using Tensor inputs = FixtureImages.Inputs();
        using var _ = no_grad();
        using CrateIntrospection readout = model.Introspect(inputs, new IntrospectionRequest { Layers = [2], HeadFeatures = true });
        MaskCutPrediction[] rows = context.Data.CreateEnumerable<MaskCutPrediction>(output, reuseRowObject: false).ToArray();
        for (int i = 0; i < 2; i++)
        {
            MaskCutPrediction row = rows[i];
            IReadOnlyList<UpsampledMask> expected = MaskCut.Segment(readout.ForLayer(2).HeadFeatures![i].narrow(0, 1, 16), 4, 4, Options.Cut).Upsample(32, 32);
            Assert.AreEqual(expected.Count, row.ObjectCount, $"image {i}: count");
            Assert.IsGreaterThan(0, row.ObjectCount, $"image {i} has an object");
            Assert.AreEqual(32, row.MaskHeight);
            Assert.AreEqual(32, row.MaskWidth);
            IReadOnlyList<MaskCutDetection> objects = row.Objects();
            for (int k = 0; k < objects.Count; k++)
            {
                CollectionAssert.AreEqual(expected[k].Mask.Cells.ToArray(), objects[k].Mask.Cells.ToArray(), $"image {i} object {k}: mask");
                CollectionAssert.AreEqual(BoxByHand(expected[k].Mask.Cells, 32, 32),
                    new[] { objects[k].X0, objects[k].Y0, objects[k].X1, objects[k].Y1 }, $"image {i} object {k}: box");
                Assert.IsTrue(objects[k].Score is >= 0 and <= 1, $"score {objects[k].Score} in [0, 1]");
            }
        }
        uint[][] keys = output.GetColumn<uint[]>("MaskCutLabels").ToArray();
        for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(Enumerable.Repeat(1u, rows[i].ObjectCount).ToArray(), keys[i]);
    }

    public sealed class Truth
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = [];

        public string[] Label { get; set; } = [];

        public float[] Box { get; set; } = [];
    }

    [TestMethod]
    public void MLNetsObjectDetectionEvaluationScoresTheBoxes()
    {
        var context = new MLContext(seed: 1);
        using CrateModel model = FixtureImages.Import();
        // One object per image, so that the expected average precision follows from one IoU per image.
        CrateMaskCutOptions one = Options with { Cut = Options.Cut with { MaxObjects = 1 } };
        IDataView images = FixtureImages.Data(context);
        using CrateMaskCutTransformer fitted = context.Transforms.CrateMaskCut(model, one).Fit(images);
        MaskCutPrediction[] found = context.Data.CreateEnumerable<MaskCutPrediction>(fitted.Transform(images), reuseRowObject: false).ToArray();
        using Tensor inputs = FixtureImages.Inputs();
        float[][] pixels = Enumerable.Range(0, 2).Select(i => FixtureImages.AsPixels(inputs[i])).ToArray();

        double Evaluate(Func<float[], float[]> truthOf, out float map50)
        {
            Truth[] rows = Enumerable.Range(0, 2).Select(i => new Truth
            {
                Image = pixels[i], Label = ["object"], Box = truthOf(BoxByHand(found[i].Objects()[0].Mask.Cells, 32, 32)),
            }).ToArray();
            IDataView truth = context.Data.LoadFromEnumerable(rows);
            IDataView scored = context.Transforms.CrateMaskCut(model, one).Append(context.Transforms.Conversion.MapKeyToValue("MaskCutLabels"))
                .Fit(truth).Transform(truth);
            var metrics = context.MulticlassClassification.EvaluateObjectDetection(scored, scored.Schema["Label"], scored.Schema["Box"],
                scored.Schema["MaskCutLabels"], scored.Schema["MaskCutBoxes"], scored.Schema["MaskCutScores"]);
            map50 = metrics.MAP50;
            return metrics.MAP50_95;
        }

        // Ground truth = the mask's own box, found by a scan: IoU 1 at every threshold.
        Assert.AreEqual(1.0, Evaluate(box => box, out float exactAt50), 1e-6);
        Assert.AreEqual(1.0, exactAt50, 1e-6);
        // Ground truth twice as wide (x1' = x0 + 2w − 1 in inclusive pixels): IoU exactly 1/2, a hit at the 0.50
        // threshold only, so mAP@50 is 1 and mAP@[.50:.95] is 1/10.
        Assert.AreEqual(0.1, Evaluate(box => [box[0], box[1], box[0] + 2 * (box[2] - box[0] + 1) - 1, box[3]], out float wideAt50), 1e-6);
        Assert.AreEqual(1.0, wideAt50, 1e-6);
    }
}
