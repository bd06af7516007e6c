using System.Text.Json;
using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Crate.Transforms.Tests.Readouts;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>
/// The CrateMaskCut transform on the PyTorch fixture models against scipy: Fixtures/make_maskcut_fixtures.py ran
/// CutLER's procedure with scipy.linalg.eigh(D − A, D) on PyTorch's last-layer head features of the same images and
/// mapped the masks to the input size. Our network's features match PyTorch's within the parity tolerance, and the
/// script only wrote cases whose cosines all clear τ by more than that can move them.
/// </summary>
[TestClass]
public sealed class CrateMaskCutTransformTests
{
    public sealed class ImageRow
    {
        public float[] Image { get; set; } = [];
    }

    private static readonly ImageNormalization Identity = FixtureImages.Identity;

    /// <summary>The fixture inputs of <paramref name="model"/> as rows of a vector column [3, H, W].</summary>
    private static IDataView Images(MLContext context, string model)
    {
        Tensor inputs = ReferenceFixtures.Array(model, "input");
        var definition = SchemaDefinition.Create(typeof(ImageRow));
        definition[nameof(ImageRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, (int)inputs.shape[2], (int)inputs.shape[3]);
        ImageRow[] rows = Enumerable.Range(0, (int)inputs.shape[0]).Select(i => new ImageRow { Image = FixtureImages.AsPixels(inputs[i]) }).ToArray();
        return context.Data.LoadFromEnumerable(rows, definition);
    }

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    public void MasksBoxesAndScoresAreScipysCutOfTheLastLayersHeadFeatures(string model)
    {
        FixtureModel fixture = ReferenceFixtures.Model(model);
        JsonElement testCase = MaskCutFixtures.Case(model);
        (int gridHeight, int gridWidth) = MaskCutFixtures.Grid(testCase);
        using CrateModel network = ReferenceParityTests.ImportFixture(model, out _);
        var context = new MLContext(seed: 1);
        IDataView data = Images(context, model);
        var options = new CrateMaskCutOptions
        {
            Normalization = Identity, ImageHeight = fixture.ImageHeight, ImageWidth = fixture.ImageWidth, Cut = MaskCutFixtures.Options(testCase),
        };
        IDataView output = context.Transforms.CrateMaskCut(network, options).Fit(data).Transform(data);
        bool[][] masks = output.GetColumn<bool[]>("MaskCutMasks").ToArray();
        float[][] boxes = output.GetColumn<float[]>("MaskCutBoxes").ToArray();
        float[][] scores = output.GetColumn<float[]>("MaskCutScores").ToArray();

        JsonElement[] images = testCase.GetProperty("images").EnumerateArray().ToArray();
        Assert.HasCount(images.Length, masks);
        for (int i = 0; i < images.Length; i++)
        {
            FixtureObject[] objects = MaskCutFixtures.Objects(images[i], gridHeight, gridWidth);
            FixtureImageMask[] expected = MaskCutFixtures.ImageMasks(images[i], fixture.ImageHeight, fixture.ImageWidth);
            Assert.IsNotEmpty(expected, $"premise: image {i} has an object");
            CollectionAssert.AreEqual(expected.SelectMany(m => m.Pixels).ToArray(), masks[i], $"image {i} masks");
            // The column holds ML.NET's object-detection corners (x0, y0, x1, y1), inclusive pixel indices; scipy's box is x, y, w, h.
            CollectionAssert.AreEqual(expected.SelectMany(m => new float[] { m.Box.X, m.Box.Y, m.Box.X + m.Box.Width - 1, m.Box.Y + m.Box.Height - 1 }).ToArray(),
                boxes[i], $"image {i} boxes");
            // Scores 1 − Ncut/2 of the same 0/1-and-ε graph in float64, stored as float32: half a float32 ulp of a value ≤ 1.
            NumericAssert.AreAllClose(expected.Select(m => objects[m.Source].Score).ToArray(), scores[i].Select(s => (double)s).ToArray(),
                new Tolerance(Tolerance.Float32Roundoff), $"image {i} scores");
        }
    }

    [TestMethod]
    public void InputSizeIsCutLersByDefault()
    {
        using CrateModel network = ReferenceParityTests.ImportFixture("crate_square", out _);
        var context = new MLContext(seed: 1);
        IDataView data = Images(context, "crate_square");
        // 60 patches a side at patch 8.
        CrateMaskCutTransformer transformer = context.Transforms.CrateMaskCut(network).Fit(data);
        Assert.AreEqual(480, transformer.ImageHeight);
        Assert.AreEqual(480, transformer.ImageWidth);
    }
}
