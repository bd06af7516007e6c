using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Crate.Transforms.Tests.Datasets;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// A float-vector image column must hold pixels in [0, 1]. ML.NET's ExtractPixels gives 0-255 by default: that
/// column is refused with an error naming it and the fix, and with the fix (scaleImage: 1/255) the maps are those of
/// the MLImage column the pixels came from (to 1e-5: ExtractPixels multiplies by 1/255, the MLImage path divides by 255), the oracle.
/// </summary>
[TestClass]
public sealed class ImageRangeTests
{
    private sealed class ImageFile
    {
        public string Name { get; set; } = "";
    }

    [TestMethod]
    public void ExtractPixelsAtItsDefaultScaleIsRefusedAndAtOneOver255MatchesTheImage()
    {
        string folder = Directory.CreateTempSubdirectory("image-range-").FullName;
        try
        {
            var random = new Random(3);
            for (int i = 0; i < 2; i++) FixtureImages.SaveRandomPng(Path.Combine(folder, $"{i}.png"), 32, 32, random);
            var context = new MLContext(seed: 0);
            IDataView files = context.Data.LoadFromEnumerable(new[] { new ImageFile { Name = "0.png" }, new ImageFile { Name = "1.png" } });
            ITransformer load = context.Transforms.LoadImages("Image", folder, nameof(ImageFile.Name))
                .Append(context.Transforms.ResizeImages("Image", 32, 32)).Fit(files);
            IDataView images = load.Transform(files);
            using CrateModel network = FixtureImages.Import();
            var options = new CrateAttentionOptions { Device = ComputeDevice.Cpu };

            IDataView bytes = context.Transforms.ExtractPixels("Pixels", "Image").Fit(images).Transform(images);
            using var fromBytes = context.Transforms.CrateAttention("Attention", "Pixels", network, options).Fit(bytes);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => fromBytes.Transform(bytes).GetColumn<float[]>("Attention").ToArray());
            StringAssert.Contains(error.Message, "Column 'Pixels'");
            StringAssert.Contains(error.Message, "scaleImage: 1f / 255");

            IDataView scaled = context.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255).Fit(images).Transform(images);
            using var fromScaled = context.Transforms.CrateAttention("Attention", "Pixels", network, options).Fit(scaled);
            float[][] maps = fromScaled.Transform(scaled).GetColumn<float[]>("Attention").ToArray();
            using var fromImage = context.Transforms.CrateAttention("Attention", "Image", network, options).Fit(images);
            float[][] expected = fromImage.Transform(images).GetColumn<float[]>("Attention").ToArray();
            Assert.HasCount(2, maps);
            for (int i = 0; i < 2; i++)
                for (int k = 0; k < expected[i].Length; k++)
                    Close.AreEqual(expected[i][k], maps[i][k], 1e-5, $"image {i}, entry {k}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ValuesJustOutsideTheRangeAreToleratedAndNaNIsNot()
    {
        Crate.Transforms.MLNet.ImageColumn.CheckRange([-0.04f, 0, 0.5f, 1.04f], "Image", 0);
        var far = Assert.ThrowsExactly<InvalidDataException>(() => Crate.Transforms.MLNet.ImageColumn.CheckRange([0.5f, 1.06f], "Image", 7));
        StringAssert.Contains(far.Message, "row 7");
        StringAssert.Contains(far.Message, "1.06");
        Assert.ThrowsExactly<InvalidDataException>(() => Crate.Transforms.MLNet.ImageColumn.CheckRange([float.NaN], "Image", 0));
    }
}
