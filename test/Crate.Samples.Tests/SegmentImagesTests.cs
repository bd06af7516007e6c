using Crate.Samples.SegmentImages;
using Crate.Testing;
using Crate.Trainers.Data;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Segmentation;
using Microsoft.ML.Data;

namespace Crate.Samples.Tests;

/// <summary>
/// Smoke runs of samples/Crate.SegmentImages on tiny inputs: what it writes is checked against what the test wrote
/// (file names, image sizes) and against the results themselves read back independently (a box is the tight box of
/// its decoded mask; the picture's box outline is where the JSON says).
/// </summary>
[TestClass]
public sealed class SegmentImagesTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-segment-sample-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private string In(params string[] parts) => Path.Combine([directory, .. parts]);

    [TestMethod]
    public void AnAuthorsCheckpointSegmentsAFolderIntoPicturesAndCocoResults()
    {
        // Three 32×32 images named as COCO names them, one in a subfolder.
        var shapes = new ShapesDatasetOptions { Count = 3, Seed = 7 };
        string[] files = ["000000000042.png", "street/000000001234.png", "7.png"];
        long[] ids = [42, 1234, 7];
        for (int i = 0; i < files.Length; i++)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(In("photos", files[i]))!);
            using MLImage image = ShapesDataset.ToImage(ShapesDataset.Sample(shapes, i));
            image.Save(In("photos", files[i]));
        }
        SampleRun run = SampleRun.Of(SegmentImagesApp.Run, "--images", In("photos"), "--model", SampleRun.Checkpoint, "--heads", "4",
            "--objects", "2", "--output", In("out"), "--device", "cpu").Succeeded();
        StringAssert.Contains(run.Output, "COCO image ids: the numbers the file names are.");
        // crate_square has patch 8 at 32×32, a 4×4 grid: the default input is enlarged to 12 patches a side, 96×96.
        StringAssert.Contains(run.Output, "Input 96×96 (a 12×12 patch grid");
        Assert.DoesNotContain("Warning", run.Output);

        CocoDataset list = CocoDataset.Load(In("out", "images.json"));
        CollectionAssert.AreEquivalent(files.Zip(ids).Select(p => $"{p.First} {p.Second} 32×32").ToArray(),
            list.Images.Select(i => $"{i.FileName} {i.Id} {i.Width}×{i.Height}").ToArray());
        foreach (string file in files)
        {
            string name = file[..^4];
            // 32×32 images are drawn 8 times larger (256 / 32); the four heads side by side with 2-pixel gaps.
            foreach ((string folder, int width) in new[] { ("attention", 4 * 256 + 3 * 2), ("segment", 256), ("maskcut", 256) })
            {
                using MLImage picture = MLImage.CreateFromFile(In("out", folder, name + ".png"));
                Assert.AreEqual((width, 256), (picture.Width, picture.Height), $"{folder}/{name}.png");
            }
        }

        IReadOnlyList<CocoDetection> detections = CocoResultsFile.Read(In("out", "maskcut-results.json"), list);
        Assert.IsNotEmpty(detections, "MaskCut cuts at least one object out of each image");
        foreach (IGrouping<long, CocoDetection> image in detections.GroupBy(d => d.ImageId))
        {
            CocoDetection[] found = image.ToArray();
            Assert.IsLessThanOrEqualTo(2, found.Length, $"image {image.Key}: at most --objects objects");
            foreach (CocoDetection detection in found)
            {
                BinaryMask mask = detection.Mask!.ToPixels();
                (int X, int Y, int Width, int Height) tight = TightBox(mask);
                Assert.AreEqual(new CocoBox(tight.X, tight.Y, tight.Width, tight.Height), detection.Box, $"image {image.Key}: the box of its mask");
            }
            // The last object is drawn last, so its box outline is intact: palette colour k at the box's corner, scaled 8 times.
            string file = list.FindImage(image.Key)!.FileName;
            using MLImage boxes = MLImage.CreateFromFile(In("out", "maskcut", file));
            CocoBox last = found[^1].Box!.Value;
            (byte, byte, byte)[] palette = [(230, 26, 26), (26, 153, 242)];
            Assert.AreEqual(palette[found.Length - 1], PicturePixels.At(boxes, (int)last.X * 8, (int)last.Y * 8), $"{file}: top-left corner of the last box");
            Assert.AreEqual(palette[found.Length - 1], PicturePixels.At(boxes, (int)(last.X + last.Width) * 8 - 1, (int)(last.Y + last.Height) * 8 - 1),
                $"{file}: bottom-right corner of the last box");
        }
    }

    [TestMethod]
    public void ASizeBelowTwelvePatchesASideIsWarnedAbout()
    {
        Directory.CreateDirectory(In("photos"));
        using (MLImage image = ShapesDataset.ToImage(ShapesDataset.Sample(new ShapesDatasetOptions { Count = 1, Seed = 7 }, 0)))
            image.Save(In("photos", "1.png"));
        string[] common = ["--images", In("photos"), "--model", SampleRun.Checkpoint, "--heads", "4", "--device", "cpu"];
        // Two output folders: a folder holding a run under other options is refused (docs/scaling.md, resume).
        SampleRun coarse = SampleRun.Of(SegmentImagesApp.Run, [.. common, "--size", "32", "--output", In("out-32")]).Succeeded();
        StringAssert.Contains(coarse.Output, "Warning: --size 32 gives a 4×4 patch grid");
        StringAssert.Contains(coarse.Output, "Try --size 96");
        SampleRun fine = SampleRun.Of(SegmentImagesApp.Run, [.. common, "--size", "96", "--output", In("out-96")]).Succeeded();
        Assert.DoesNotContain("Warning", fine.Output);
        Assert.DoesNotContain("Input ", fine.Output, "a size given is used as given");
    }

    private static (int X, int Y, int Width, int Height) TightBox(BinaryMask mask)
    {
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
                if (mask[y, x]) (x0, y0, x1, y1) = (Math.Min(x0, x), Math.Min(y0, y), Math.Max(x1, x), Math.Max(y1, y));
        Assert.IsGreaterThanOrEqualTo(0, x1, "a detection's mask is not empty");
        return (x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    [TestMethod]
    public void WithoutArgumentsItTrainsOnTheEmbeddedDataAndItsOutputsServeTheNextRun()
    {
        SampleRun first = SampleRun.Of(SegmentImagesApp.Run, "--count", "3", "--train-images", "48", "--epochs", "1", "--output", In("out"), "--device", "cpu").Succeeded();
        // Patch 4 at 32×32 is an 8×8 grid: read at 12 × 4 = 48 pixels a side.
        StringAssert.Contains(first.Output, "Input 48×48 (a 12×12 patch grid");
        string model = In("out", "shapes-crate.safetensors");
        Assert.AreEqual(CrateNetworkFileFormat.ModelFile, CrateNetworkFile.DetectFormat(model));
        Assert.AreEqual(4, CrateNetworkFile.ReadArchitecture(model).PatchSize, "patch 4: an 8×8 grid of the 32×32 images");
        // The embedded images are named by their index from 0, and image i is of class i mod 4 (ShapesDataset's rule);
        // COCO's ids start at 1, so image i gets id i + 1.
        IReadOnlyList<string> classes = ShapesDataset.ClassNames(new ShapesDatasetOptions());
        CocoDataset list = CocoDataset.Load(In("out", "images.json"));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 3).Select(i => $"{classes[i]}/{i:D6}.png {i + 1}").ToArray(),
            list.Images.Select(i => $"{i.FileName} {i.Id}").ToArray());
        Assert.IsTrue(list.Images.All(i => i.Id >= 1), "COCO image ids start at 1");
        foreach (CocoImage image in list.Images)
            Assert.IsTrue(File.Exists(In("out", "segment", Path.ChangeExtension(image.FileName, ".png"))), image.FileName);

        // The next run takes the saved model and the image list back: no training, the same ids.
        SampleRun again = SampleRun.Of(SegmentImagesApp.Run, "--images", In("out", "embedded-images", "images"), "--model", model,
            "--image-ids", In("out", "images.json"), "--output", In("again"), "--device", "cpu").Succeeded();
        Assert.DoesNotContain("training", again.Output);
        CollectionAssert.AreEquivalent(list.Images.ToArray(), CocoDataset.Load(In("again", "images.json")).Images.ToArray());
    }

    [TestMethod]
    public void HelpAndBadInputsAreAnsweredInWords()
    {
        SampleRun help = SampleRun.Of(SegmentImagesApp.Run, "--help").Succeeded();
        foreach (string option in new[] { "--images", "--model", "--heads", "--image-ids", "--size", "--objects", "--output" })
            StringAssert.Contains(help.Output, option);
        StringAssert.Contains(help.Output, "at least 12×12 patches");
        File.WriteAllText(In("notes.txt"), "not a network");
        SampleRun notANetwork = SampleRun.Of(SegmentImagesApp.Run, "--model", In("notes.txt"), "--output", In("out"));
        Assert.AreEqual(1, notANetwork.ExitCode);
        StringAssert.Contains(notANetwork.Output, "neither a Crate.MLNet model file");
        SampleRun noHeads = SampleRun.Of(SegmentImagesApp.Run, "--model", SampleRun.Checkpoint, "--output", In("out"));
        Assert.AreEqual(1, noHeads.ExitCode);
        StringAssert.Contains(noHeads.Output, "Heads");
    }
}
