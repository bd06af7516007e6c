using System.Diagnostics;
using System.Text;
using Crate.Samples.SegmentImages;
using Crate.Trainers.Data;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Microsoft.ML.Data;

namespace Crate.Samples.Tests;

/// <summary>
/// samples/Crate.SegmentImages split into shards and merged (docs/scaling.md). The oracle is the single run of the
/// same command: the merge of N = 1, 3 and 7 shards (in this process, and as separate processes for one N) must
/// write the same bytes (images.json, maskcut-results.json, every picture and mask) and the same metrics.json, to
/// the last bit; which shard holds which image is checked against FNV-1a computed here, from its definition.
/// </summary>
[TestClass]
public sealed class ShardedSegmentationTests
{
    private const int ImageCount = 9;

    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-shards-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private string In(params string[] parts) => Path.Combine([directory, .. parts]);

    /// <summary>The COCO layout: val2017/ and annotations/instances_val2017.json, the objects the shapes' masks; ids as COCO names them.</summary>
    private (string Images, string[] Options, string[] Truth) CocoFixture()
    {
        var shapes = new ShapesDatasetOptions { Count = ImageCount, Seed = 5, Scale = (0.35, 0.55) };
        var images = new List<CocoImage>();
        var objects = new List<CocoAnnotation>();
        for (int i = 0; i < ImageCount; i++)
        {
            ShapesSample sample = ShapesDataset.Sample(shapes, i);
            long id = 1000 + 37 * i;
            string file = $"{id:D12}.jpg";
            Directory.CreateDirectory(In("coco", "val2017"));
            using (MLImage image = ShapesDataset.ToImage(sample)) image.Save(In("coco", "val2017", file));
            images.Add(new CocoImage(id, sample.Width, sample.Height, file));
            objects.Add(CocoAnnotation.FromMask(i + 1, id, sample.ClassIndex + 1, RleMask.FromPixels(sample.Mask, sample.Height, sample.Width)));
        }
        Directory.CreateDirectory(In("coco", "annotations"));
        string truth = In("coco", "annotations", "instances_val2017.json");
        new CocoDataset(images, objects, ShapesDataset.ClassNames(shapes).Select((name, c) => new CocoCategory(c + 1, name)).ToList()).Save(truth);
        return (In("coco", "val2017"), ["--image-ids", truth], ["--truth", truth]);
    }

    /// <summary>The VOC layout: VOC2012/JPEGImages and SegmentationClass (class c + 1 on the object, its top row void); ids 1…n in name order.</summary>
    private (string Images, string[] Options, string[] Truth) VocFixture()
    {
        var shapes = new ShapesDatasetOptions { Count = ImageCount, Seed = 6, Scale = (0.35, 0.55) };
        string jpegs = In("VOC2012", "JPEGImages"), classes = In("VOC2012", "SegmentationClass");
        Directory.CreateDirectory(jpegs);
        Directory.CreateDirectory(classes);
        for (int i = 0; i < ImageCount; i++)
        {
            ShapesSample sample = ShapesDataset.Sample(shapes, i);
            string name = $"2007_{i * 11:D6}";
            using (MLImage image = ShapesDataset.ToImage(sample)) image.Save(Path.Combine(jpegs, name + ".jpg"));
            byte[] labels = sample.Mask.Select((m, p) => p < sample.Width ? (byte)255 : m ? (byte)(sample.ClassIndex + 1) : (byte)0).ToArray();
            PngLabelMap.Write(Path.Combine(classes, name + ".png"), new LabelMap(sample.Height, sample.Width, labels));
        }
        return (jpegs, [], ["--truth-masks", classes]);
    }

    private static string[] Segment(string images, string[] options, string output, params string[] more) =>
        ["--images", images, "--model", SampleRun.Checkpoint, "--heads", "4", "--objects", "2", "--device", "cpu", "--output", output, .. options, .. more];

    private static string[] Shard(string images, string[] options, string output, int index, int count) =>
        Segment(images, options, output, "--shard-index", $"{index}", "--shard-count", $"{count}");

    private string MergeOf(string name, string[] truth, params string[] shards)
    {
        SampleRun.Of(SegmentImagesApp.Run, ["merge", .. shards, "--output", In(name), .. truth]).Succeeded();
        return In(name);
    }

    [TestMethod]
    public void ShardsOfACocoLayoutMergeIntoTheSingleRunAsProcessesAndInProcess()
    {
        (string images, string[] options, string[] truth) = CocoFixture();
        string single = SingleRun(images, options, truth);
        AssertSameOutputs(single, MergeOf("merged-3-processes", truth, InProcesses(images, options, 3)));
        AssertSameOutputs(single, MergeOf("merged-7", truth, InProcess(images, options, 7)));
        // The metrics are COCO AP against the fixture's objects: real numbers, not the -1 of an empty evaluation.
        StringAssert.Contains(File.ReadAllText(Path.Combine(single, ShardMerge.MetricsFile)), "\"segm\"");
    }

    [TestMethod]
    public void ShardsOfAVocLayoutMergeIntoTheSingleRunAndAShardStoppedMidRunAndKilledMidLineResumes()
    {
        (string images, string[] options, string[] truth) = VocFixture();
        string single = SingleRun(images, options, truth);
        foreach (int count in new[] { 1, 7 }) AssertSameOutputs(single, MergeOf($"merged-{count}", truth, InProcess(images, options, count)));
        StringAssert.Contains(File.ReadAllText(Path.Combine(single, ShardMerge.MetricsFile)), "\"mIoU\"");
        AssertSameOutputs(single, MergeOf("merged-3-resumed", truth, InProcessOneResumed(images, options)));
    }

    /// <summary>The single run, and its folder merged alone for the evaluation (metrics.json) the merges are compared with.</summary>
    private string SingleRun(string images, string[] options, string[] truth)
    {
        SampleRun.Of(SegmentImagesApp.Run, Segment(images, options, In("single"))).Succeeded();
        string evaluated = MergeOf("single-evaluated", truth, In("single"));
        // The single run's own files are the merge's: a merge of one folder changes no byte.
        AssertSameOutputs(In("single"), evaluated, compareMetrics: false);
        return evaluated;
    }

    private string[] InProcess(string images, string[] options, int count)
    {
        string[] shards = Enumerable.Range(0, count).Select(i => In($"shards-{count}", $"{i}")).ToArray();
        for (int i = 0; i < count; i++) SampleRun.Of(SegmentImagesApp.Run, Shard(images, options, shards[i], i, count)).Succeeded();
        AssertPartition(shards, count);
        return shards;
    }

    /// <summary>N processes of the built sample at once, as a cluster runs them.</summary>
    private string[] InProcesses(string images, string[] options, int count)
    {
        string program = Path.Combine(AppContext.BaseDirectory, "Crate.SegmentImages.dll");
        string[] shards = Enumerable.Range(0, count).Select(i => In($"processes-{count}", $"{i}")).ToArray();
        var processes = shards.Select((folder, i) =>
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in (string[])[program, .. Shard(images, options, folder, i, count)]) start.ArgumentList.Add(argument);
            Process process = Process.Start(start)!;
            return (Process: process, Output: process.StandardOutput.ReadToEndAsync(), Error: process.StandardError.ReadToEndAsync());
        }).ToArray();
        foreach ((Process process, Task<string> output, Task<string> error) in processes)
        {
            using (process)
            {
                process.WaitForExit();
                Assert.AreEqual(0, process.ExitCode, output.Result + error.Result);
            }
        }
        AssertPartition(shards, count);
        return shards;
    }

    /// <summary>Shard i holds exactly the images whose name's FNV-1a-64 mod N is i, FNV-1a done here from its definition.</summary>
    private static void AssertPartition(string[] shards, int count)
    {
        var all = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string[] files = CocoDataset.Load(Path.Combine(shards[i], ShardJournal.ImagesFile)).Images.Select(image => image.FileName).ToArray();
            foreach (string file in files)
            {
                ulong hash = 14695981039346656037UL;
                foreach (byte b in Encoding.UTF8.GetBytes(file[..file.LastIndexOf('.')])) hash = (hash ^ b) * 1099511628211UL;
                Assert.AreEqual((ulong)i, hash % (ulong)count, $"{file} in shard {i} of {count}");
            }
            all.AddRange(files);
        }
        Assert.HasCount(ImageCount, all.Distinct().ToArray(), "every image in one shard");
    }

    /// <summary>Byte for byte: the results, the image list, every picture and mask, and (when asked) the metrics.</summary>
    private static void AssertSameOutputs(string expected, string actual, bool compareMetrics = true)
    {
        string[] files = [ShardJournal.ImagesFile, ShardJournal.ResultsFile, .. compareMetrics ? [ShardMerge.MetricsFile] : Array.Empty<string>(),
            .. SegmentImagesApp.PictureFolders.SelectMany(folder => Directory.GetFiles(Path.Combine(expected, folder)).Select(f => Path.Combine(folder, Path.GetFileName(f))))];
        Assert.HasCount(ImageCount * SegmentImagesApp.PictureFolders.Length, files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)).ToArray());
        foreach (string file in files)
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(expected, file)), File.ReadAllBytes(Path.Combine(actual, file)), $"{file} of {actual}");
        foreach (string folder in SegmentImagesApp.PictureFolders)
            Assert.HasCount(ImageCount, Directory.GetFiles(Path.Combine(actual, folder)), $"{actual}/{folder}: no picture more");
    }

    /// <summary>Three shards, the largest stopped after one image, then killed while writing the next image's journal line and a picture, then resumed.</summary>
    private string[] InProcessOneResumed(string images, string[] options)
    {
        string[] shards = Enumerable.Range(0, 3).Select(i => In("shards-3", $"{i}")).ToArray();
        int biggest = Enumerable.Range(0, 3).MaxBy(i => Directory.GetFiles(images).Count(f => ShardPartition.ShardOf(Path.GetFileNameWithoutExtension(f), 3) == i));
        foreach (int i in Enumerable.Range(0, 3).Where(i => i != biggest)) SampleRun.Of(SegmentImagesApp.Run, Shard(images, options, shards[i], i, 3)).Succeeded();
        string[] command = Shard(images, options, shards[biggest], biggest, 3);
        SampleRun stopped = SampleRun.Of(SegmentImagesApp.Run, [.. command, "--stop-after", "1"]);
        Assert.AreEqual(SegmentImagesApp.StoppedEarly, stopped.ExitCode, stopped.Output);
        Assert.HasCount(1, ShardJournal.Read(shards[biggest]));
        StringAssert.Contains(SampleRun.Of(SegmentImagesApp.Run, ["merge", .. shards, "--output", In("early")]).Output, "is incomplete: 1 of its");
        File.AppendAllText(Path.Combine(shards[biggest], ShardJournal.FileName), "{\"File\":\"2007_0000");
        File.WriteAllText(Path.Combine(shards[biggest], "maskcut", AtomicFile.PartialPrefix + "x.png"), "torn");
        StringAssert.Contains(SampleRun.Of(SegmentImagesApp.Run, command).Succeeded().Output, "Resuming: 1 images done by an earlier run");
        // A rerun of a complete shard segments nothing.
        StringAssert.Contains(SampleRun.Of(SegmentImagesApp.Run, command).Succeeded().Output, "by an earlier run (journal.jsonl), 0 to go");
        AssertPartition(shards, 3);
        return shards;
    }

    [TestMethod]
    public void TheShardOfANameIsFnv1a64ModN()
    {
        // The published FNV-1a 64-bit test vectors (draft-eastlake-fnv, also checked with a 5-line Python loop).
        Assert.AreEqual(0xcbf29ce484222325UL, ShardPartition.Fnv1a64(""));
        Assert.AreEqual(0xaf63dc4c8601ec8cUL, ShardPartition.Fnv1a64("a"));
        Assert.AreEqual(0x85944171f73967e8UL, ShardPartition.Fnv1a64("foobar"));
        Assert.AreEqual((int)(0x85944171f73967e8UL % 7), ShardPartition.ShardOf("foobar", 7));
        Assert.IsTrue(new ShardPartition((int)(0xaf63dc4c8601ec8cUL % 3), 3).Contains("a"));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ShardPartition(3, 3));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ShardPartition(0, 0));
    }

    [TestMethod]
    public void BadShardsAreRefusedByName()
    {
        (string images, string[] options, _) = VocFixture();
        string[] shards = Enumerable.Range(0, 3).Select(i => In("shards", $"{i}")).ToArray();
        for (int i = 0; i < 3; i++) SampleRun.Of(SegmentImagesApp.Run, Shard(images, options, shards[i], i, 3)).Succeeded();
        string other = In("other-options");
        SampleRun.Of(SegmentImagesApp.Run, [.. Shard(images, options, other, 2, 3), "--fraction", "0.5"]).Succeeded();

        string Refusal(params string[] folders)
        {
            SampleRun run = SampleRun.Of(SegmentImagesApp.Run, ["merge", .. folders, "--output", In($"merged-{Guid.NewGuid():N}")]);
            Assert.AreEqual(1, run.ExitCode, run.Output);
            return run.Output;
        }
        StringAssert.Contains(Refusal(shards[0], shards[1]), "Shard 2 of 3 missing");
        StringAssert.Contains(Refusal(shards[0], shards[1], shards[1], shards[2]), "are both shard 1 of 3");
        StringAssert.Contains(Refusal(shards[0], shards[1], other), "is a shard of another run than");
        StringAssert.Contains(Refusal(shards[0], shards[1], other), "option --fraction 0.6 vs 0.5");
        StringAssert.Contains(Refusal(shards[0], shards[1], In("VOC2012")), "has no shard.json");

        // Another run's options into a shard's folder are refused before anything is written.
        SampleRun intoOther = SampleRun.Of(SegmentImagesApp.Run, [.. Shard(images, options, shards[2], 2, 3), "--layer", "1"]);
        Assert.AreEqual(1, intoOther.ExitCode);
        StringAssert.Contains(intoOther.Output, "holds the outputs of another run (option --layer default vs 1)");

        File.WriteAllText(Path.Combine(shards[1], "segment", "notes.txt"), "mine");
        StringAssert.Contains(Refusal(shards), "holds 'segment/notes.txt', which no shard writes");
        File.Delete(Path.Combine(shards[1], "segment", "notes.txt"));

        // An image lost from a journal, and one moved into another shard's journal.
        string journal = Path.Combine(shards[0], ShardJournal.FileName);
        string[] lines = File.ReadAllLines(journal);
        File.WriteAllLines(journal, lines[..^1]);
        StringAssert.Contains(Refusal(shards), "is missing image");
        File.AppendAllLines(Path.Combine(shards[1], ShardJournal.FileName), [lines[^1]]);
        File.WriteAllLines(journal, lines);
        StringAssert.Contains(Refusal(shards), "which is not one of its shard's images");
    }
}
