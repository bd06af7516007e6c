using Crate.Emergence;

namespace Crate.Emergence.Tests;

/// <summary>
/// <c>--voc/--coco</c> in shards: N = 1, 3 and 7 shards merged give the single-process run's numbers bit for bit
/// (every metric of every layer of the given model and of the controls, and eq. 13's head counts), a shard stopped
/// midway and resumed included. The oracle is the single run, which never touches the shard code (no read-outs files,
/// no manifest): the network over the whole dataset in one pass. Bad shards are refused by name.
/// </summary>
[TestClass]
public sealed class ShardTests
{
    private static readonly string[] Model = ["--model", RealDataTests.Checkpoint, "--checkpoint-heads", "4", "--input-size", "32", "--device", "Cpu", "--pictures", "1"];

    [TestMethod]
    public void VocShardsMergeIntoTheSingleRun()
    {
        string scratch = Directory.CreateTempSubdirectory("crate-emergence-voc-shards-").FullName;
        try
        {
            ShardedRunsEqualTheSingleRun(["--voc", Path.Combine(RealDataTests.Fixtures, "segmentation", "voc"), "--voc-split", "pipeline"], scratch);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [TestMethod]
    public void CocoShardsMergeIntoTheSingleRunAndBadShardsAreRefusedByName()
    {
        string scratch = Directory.CreateTempSubdirectory("crate-emergence-coco-shards-").FullName;
        try
        {
            string tree = Path.Combine(scratch, "coco");
            RealDataTests.WriteCocoTree(tree);
            string[] data = ["--coco", tree, "--layers", "2", "3"];
            string[] three = ShardedRunsEqualTheSingleRun(data, scratch);
            string[] merge = [.. data, .. Model];

            StringAssert.Contains(RealDataTests.Refused([.. merge, "--merge", three[0], three[1]]), "Shard 2 of 3 missing");
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--merge", three[0], three[0], three[1], three[2]]), "both shard 0 of 3");
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--fraction", "0.5", "--merge", .. three]), "option --fraction 0.5 vs 0.6");
            StringAssert.Contains(RealDataTests.Refused([.. data, .. Model, "--layers", "3", "--merge", .. three]), "option --layers");
            string foreign = Path.Combine(three[1], "readouts", "notes.txt");
            File.WriteAllText(foreign, "mine");
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--merge", .. three]), $"'{three[1]}' holds 'readouts/notes.txt'");
            File.Delete(foreign);
            string stopped = Path.Combine(scratch, "stopped");
            Assert.AreEqual(EmergenceShards.StoppedExitCode, Run([.. merge, "--shard-index", "1", "--shard-count", "3", "--stop-after", "1", "--output", stopped]));
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--merge", three[0], stopped, three[2]]), $"'{stopped}' (shard 1 of 3) is incomplete");
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--shard-index", "2", "--shard-count", "3", "--output", stopped]), "shard index 1 vs 2");
            StringAssert.Contains(RealDataTests.Refused([.. merge, "--shard-index", "1"]), "--shard-index and --shard-count together");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>The single run, then N = 1, 3, 7 shards and their merges, each compared with it; returns N = 3's shard folders.</summary>
    private static string[] ShardedRunsEqualTheSingleRun(string[] data, string scratch)
    {
        string[] command = [.. data, .. Model, "--plain"];
        string single = Path.Combine(scratch, "single");
        Assert.AreEqual(0, Run([.. command, "--output", single]));
        ExperimentResult expected = ReportWriter.ReadResults(Path.Combine(single, "results.json"));
        Assert.IsFalse(File.Exists(Path.Combine(single, "shard.json")), "the single run writes no shard records");
        string[] three = [];
        foreach (int count in new[] { 1, 3, 7 })
        {
            var folders = new List<string>();
            for (int index = 0; index < count; index++)
            {
                string folder = Path.Combine(scratch, $"of{count}-shard{index}");
                string[] shard = [.. command, "--shard-index", $"{index}", "--shard-count", $"{count}", "--output", folder];
                if (count == 3 && index == 0)
                {
                    // Stopped after one (model, layer), as a killed pod; the rerun keeps that file and does the rest.
                    Assert.AreEqual(EmergenceShards.StoppedExitCode, Run([.. shard, "--stop-after", "1"]));
                    string first = Path.Combine(folder, EmergenceShards.ReadoutsFile(0, expected.Models[0].Layers[0].Layer));
                    Assert.HasCount(1, Directory.GetFiles(Path.Combine(folder, EmergenceShards.ReadoutsFolder)), "one read-out done before the stop");
                    DateTime written = File.GetLastWriteTimeUtc(first);
                    Assert.AreEqual(0, Run(shard));
                    Assert.AreEqual(written, File.GetLastWriteTimeUtc(first), "the resumed shard skips what the stopped one finished");
                }
                else
                {
                    Assert.AreEqual(0, Run(shard));
                }
                folders.Add(folder);
            }
            string merged = Path.Combine(scratch, $"of{count}-merged");
            // The shards in another order than their indexes: the merge orders images by the dataset, not by folder.
            Assert.AreEqual(0, Run([.. command, "--merge", .. Enumerable.Reverse(folders), "--output", merged]));
            AssertSameNumbers(expected, ReportWriter.ReadResults(Path.Combine(merged, "results.json")), $"{count} shards");
            if (count == 3) three = [.. folders];
        }
        return three;
    }

    private static void AssertSameNumbers(ExperimentResult expected, ExperimentResult actual, string what)
    {
        CollectionAssert.AreEqual(expected.Models.Select(m => m.Model).ToArray(), actual.Models.Select(m => m.Model).ToArray(), what);
        foreach ((ModelResult e, ModelResult a) in expected.Models.Zip(actual.Models))
        {
            Assert.HasCount(e.Layers.Count, a.Layers, $"{what}: {e.Model}");
            foreach ((LayerResult el, LayerResult al) in e.Layers.Zip(a.Layers))
            {
                Assert.AreEqual(el.Layer, al.Layer);
                foreach (Metric metric in Metrics.All)
                    Assert.AreEqual(BitConverter.DoubleToInt64Bits(Metrics.Value(el, metric)), BitConverter.DoubleToInt64Bits(Metrics.Value(al, metric)),
                        $"{what}: {e.Model} layer {el.Layer} {metric}: {Metrics.Value(el, metric):R} vs {Metrics.Value(al, metric):R}");
                CollectionAssert.AreEqual(el.BestHeadCounts.ToArray(), al.BestHeadCounts.ToArray(), $"{what}: {e.Model} layer {el.Layer} head counts");
            }
        }
        // The given model's numbers are real measurements, not empty: the comparison above compares something.
        Assert.IsTrue(expected.Models[0].Layers.All(l => double.IsFinite(l.BestHeadMeanIoU) && double.IsFinite(l.Boxes.AR100)), $"{what}: finite metrics");
    }

    private static int Run(params string[] args) => ReportSmokeTests.RunCommand(args);
}
