using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests;

/// <summary>Bad input is refused with the column, file or shape named, before training starts where it can be known.</summary>
[TestClass]
public sealed class CrateTrainerInputTests
{
    private static readonly MLContext Context = new(seed: 1);

    private static CrateTrainer Trainer(Action<CrateTrainerOptions>? change = null)
    {
        CrateTrainerOptions options = TinyImages.Options(epochs: 1);
        change?.Invoke(options);
        return Context.MulticlassClassification.Trainers.Crate(options);
    }

    [TestMethod]
    public void NoLabelColumn()
    {
        IDataView data = Context.Data.LoadFromEnumerable(TinyImages.Rows(6, 1));
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainer(o => o.LabelColumnName = "Class").Fit(data));
        StringAssert.Contains(error.Message, "'Class'");
    }

    [TestMethod]
    public void LabelThatIsNotAKey()
    {
        IDataView data = Context.Data.LoadFromEnumerable(TinyImages.Rows(6, 1));
        var error = Assert.ThrowsExactly<ArgumentException>(() => Trainer().Fit(data));
        StringAssert.Contains(error.Message, "MapValueToKey");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer().GetOutputSchema(Crate.Transforms.MLNet.MLNetInternals.ShapeOf(data.Schema))).Message, "'Label'");
    }

    [TestMethod]
    public void SingleClass()
    {
        TinyImages.Row[] rows = TinyImages.Rows(6, 1).Select(r => new TinyImages.Row { Image = r.Image, Label = "left" }).ToArray();
        var error = Assert.ThrowsExactly<ArgumentException>(() => Trainer().Fit(TinyImages.Keyed(Context, rows)));
        StringAssert.Contains(error.Message, "at least two");
    }

    [TestMethod]
    public void ZeroRows()
    {
        IDataView keyed = TinyImages.Keyed(Context, TinyImages.Rows(6, 1));
        IDataView empty = Context.Data.SkipRows(keyed, 100);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer().Fit(empty)).Message, "no rows");
    }

    [TestMethod]
    public void ImageColumnOfTheWrongType()
    {
        IDataView keyed = TinyImages.Keyed(Context, TinyImages.Rows(6, 1));
        var error = Assert.ThrowsExactly<ArgumentException>(() => Trainer(o => o.ImageColumnName = "Label").Fit(keyed));
        StringAssert.Contains(error.Message, "'Label'");
    }

    public sealed class PathRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    private static string WritePng(string directory, string name, int width, int height)
    {
        string path = Path.Combine(directory, name);
        byte[] pixels = Enumerable.Repeat((byte)200, 4 * width * height).ToArray();
        using MLImage image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, pixels);
        image.Save(path);
        return path;
    }

    private static IDataView LoadedImages(string directory, params (string File, string Label)[] rows)
    {
        IDataView data = Context.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.File, Label = r.Label }));
        return Context.Transforms.Conversion.MapValueToKey("Label")
            .Append(Context.Transforms.LoadImages("Image", directory, "ImagePath")).Fit(data).Transform(data);
    }

    [TestMethod]
    public void ImagesThatCannotBeUsedAreNamedByRow()
    {
        string directory = Directory.CreateTempSubdirectory("crate-images-").FullName;
        try
        {
            WritePng(directory, "a.png", 16, 16);
            WritePng(directory, "b.png", 20, 16);
            WritePng(directory, "tiny.png", 2, 2);
            // A different size with resizing off.
            var resizeOff = Assert.ThrowsExactly<InvalidDataException>(() =>
                Trainer(o => o.ResizeImages = false).Fit(LoadedImages(directory, ("a.png", "x"), ("b.png", "y"))));
            StringAssert.Contains(resizeOff.Message, "row 1");
            StringAssert.Contains(resizeOff.Message, "20×16");
            // Smaller than one patch.
            var tiny = Assert.ThrowsExactly<InvalidDataException>(() => Trainer().Fit(LoadedImages(directory, ("a.png", "x"), ("tiny.png", "y"))));
            StringAssert.Contains(tiny.Message, "smaller than one 4×4 patch");
            // A file that does not exist.
            Exception missing = Assert.Throws<Exception>(() => Trainer().Fit(LoadedImages(directory, ("a.png", "x"), ("gone.png", "y"))));
            StringAssert.Contains(missing.ToString(), "gone.png");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void InitialWeightsWhoseBackboneDoesNotFit()
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-init-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var other = new CrateModel(TinyImages.Options().ToArchitecture(3) with { EmbeddingDim = 48, HeadDim = 24 }))
                CrateModelFile.Save(other, path);
            var error = Assert.ThrowsExactly<InvalidDataException>(() =>
                Trainer(o => o.InitialWeightsPath = path).Fit(TinyImages.Keyed(Context, TinyImages.Rows(6, 1))));
            StringAssert.Contains(error.Message, "d 48");
            StringAssert.Contains(error.Message, "d 32");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void OptionsOutOfRangeAreNamed()
    {
        IDataView keyed = TinyImages.Keyed(Context, TinyImages.Rows(6, 1));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer(o => o.Epochs = 0).Fit(keyed)).Message, "Epochs");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer(o => o.ImageHeight = 18).Fit(keyed)).Message, "ImageHeight");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer(o => o.NumberOfThreads = 0).Fit(keyed)).Message, "NumberOfThreads");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Trainer(o => o.ResumeFrom = "/no/such/checkpoint").Fit(keyed)).Message, "/no/such/checkpoint");
    }
}
