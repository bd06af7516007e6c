using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>The README's segmentation example, on image files and a model file made here: it runs, and its objects
/// are MaskCut's cut of the same network's head features (the oracle: <see cref="MaskCut.Segment"/> by hand).</summary>
[TestClass]
public sealed class ReadmeSegmentationTests
{
    public sealed record ImageFile(string Name);

    [TestMethod]
    public void FromAnImageFolderAndAModelFileToObjects()
    {
        string folder = Directory.CreateTempSubdirectory("crate-readme-").FullName;
        string modelFile = FixtureImages.SaveModelFile();
        try
        {
            var random = new Random(4);
            for (int f = 0; f < 2; f++) FixtureImages.SaveRandomPng(Path.Combine(folder, $"{f}.png"), 48, 40, random);

            var mlContext = new MLContext();
            IDataView files = mlContext.Data.LoadFromEnumerable(Directory.GetFiles(folder).Order().Select(f => new ImageFile(Path.GetFileName(f))));
            using var maskCut = mlContext.Transforms.LoadImages("Image", folder, nameof(ImageFile.Name))
                .Append(mlContext.Transforms.CrateMaskCut(CrateNetworkSource.FromModelFile(modelFile)))
                .Fit(files);
            MaskCutPrediction[] found = mlContext.Data.CreateEnumerable<MaskCutPrediction>(maskCut.Transform(files), reuseRowObject: false).ToArray();

            Assert.HasCount(2, found);
            using CrateModel network = FixtureImages.Import();
            using var _ = no_grad();
            for (int f = 0; f < 2; f++)
            {
                using MLImage image = MLImage.CreateFromFile(Path.Combine(folder, $"{f}.png"));
                var pixels = Crate.Transforms.MLNet.ImageColumn.FromImage(image, "Image", f);
                using Tensor input = new Crate.Transforms.MLNet.ImageNormalization().ToBatch([pixels], 480, 480, CPU);
                using CrateIntrospection readout = network.Introspect(input, new IntrospectionRequest { Layers = [2], HeadFeatures = true });
                IReadOnlyList<UpsampledMask> expected = MaskCut.Segment(readout.ForLayer(2).HeadFeatures![0].narrow(0, 1, 3600), 60, 60).Upsample(40, 48);
                IReadOnlyList<MaskCutDetection> objects = found[f].Objects();
                Assert.HasCount(expected.Count, objects, $"image {f}");
                for (int k = 0; k < objects.Count; k++)
                    CollectionAssert.AreEqual(expected[k].Mask.Cells.ToArray(), objects[k].Mask.Cells.ToArray(), $"image {f} object {k}");
                Assert.AreEqual(40, found[f].MaskHeight);
                Assert.AreEqual(48, found[f].MaskWidth);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
            File.Delete(modelFile);
        }
    }
}
