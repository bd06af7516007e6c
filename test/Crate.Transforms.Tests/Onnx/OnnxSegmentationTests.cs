using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Crate.Transforms.Tests.Segmentation;
using Crate.Transforms.Tests.Readouts;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Onnx;

/// <summary>
/// Segmentation from an exported model (docs/onnx.md): the network part of CrateSegment runs in ONNX Runtime and the
/// mask rules, which need no network, run on its output; the masks must be the CrateSegment transform's.
/// </summary>
[TestClass]
public sealed class OnnxSegmentationTests
{
    [TestMethod]
    public void CrateSegmentMasksFollowFromTheExportedClsMaps()
    {
        // The fixture model of the read-out tests: 32×32, patch 8 (a 4×4 grid), 4 heads, 3 layers; inputs already normalised.
        using CrateModel model = ReferenceParityTests.ImportFixture("crate_square", out _);
        using Tensor inputs = ReferenceFixtures.Array("crate_square", "input");
        const int layer = 1, heads = 4, cells = 16; // CrateSegment's default layer: the penultimate
        const double fraction = 0.6;                // and its default rule, the top 60 % of each map
        using var onnx = new OnnxRun(OnnxParityTests.ExportToBytes(model, new CrateOnnxExportOptions { ClsAttentionLayers = [layer] }));
        float[] maps = onnx.Run(OnnxParityTests.Floats(inputs), 2, 3, 32, 32)[CrateOnnxExporter.ClsAttentionOutput].Values; // [2, 1, 4, 4, 4]

        var context = new MLContext(seed: 1);
        ReadoutTransformTests.Row[] rows = Enumerable.Range(0, 2)
            .Select(i => new ReadoutTransformTests.Row { Image = FixtureImages.AsPixels(inputs[i]), Name = $"img{i}" }).ToArray();
        IDataView data = context.Data.LoadFromEnumerable(rows);
        ImageNormalization identity = FixtureImages.Identity;
        IDataView segmented = context.Transforms.CrateSegment(model, new CrateSegmentOptions { Normalization = identity, Device = ComputeDevice.Cpu })
            .Fit(data).Transform(data);
        bool[][] merged = segmented.GetColumn<bool[]>("PredictedMask").ToArray();
        bool[][] headMasks = segmented.GetColumn<bool[]>("HeadMasks").ToArray();

        for (int i = 0; i < 2; i++)
        {
            var expectedHeads = new List<bool>();
            var mean = new float[cells];
            for (int h = 0; h < heads; h++)
            {
                float[] map = maps.AsSpan((i * heads + h) * cells, cells).ToArray();
                RequireMargin(map, fraction, $"image {i}, head {h}");
                expectedHeads.AddRange(AttentionMaskRules.TopFraction(map, fraction));
                for (int c = 0; c < cells; c++) mean[c] += map[c] / heads;
            }
            RequireMargin(mean, fraction, $"image {i}, mean of the heads");
            CollectionAssert.AreEqual(expectedHeads, headMasks[i], $"image {i}: head masks");
            CollectionAssert.AreEqual(AttentionMaskRules.TopFraction(mean, fraction), merged[i], $"image {i}: merged mask");
        }
    }

    /// <summary>
    /// The masks can only be compared when no map value sits within rounding of the cut. Map entries are softmax
    /// probabilities, whose float32 rounding is relative (exponentials of scores of order 10: about 1e-6 of the
    /// entry), so the last kept and the first dropped entry must differ by 0.1 % of the kept one.
    /// </summary>
    private static void RequireMargin(float[] map, double fraction, string what)
    {
        float[] sorted = map.OrderDescending().ToArray();
        int keep = (int)Math.Ceiling(fraction * map.Length - 1e-9);
        if (!(sorted[keep - 1] - sorted[keep] > 1e-3 * sorted[keep - 1]))
            Assert.Inconclusive($"{what}: the top-{keep} cut falls between {sorted[keep - 1]} and {sorted[keep]}, too close to compare masks.");
    }
}
