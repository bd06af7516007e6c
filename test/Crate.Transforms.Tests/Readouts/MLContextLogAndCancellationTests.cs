using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// A read-out reports to its MLContext and stops when the context is cancelled. The input is a generated stream of a
/// million rows, far more than the test reads: the read-out logs its device and precision once, then the images done
/// each time their count doubles (16, 32, 64, … for batches of 16, the rule written out here), and after
/// <c>CancelExecution</c> (Microsoft.ML.Experimental's extension calls the same internal method) the next batch throws
/// ML.NET's OperationCanceledException, so the cursor stops within one batch of the cancellation.
/// </summary>
[TestClass]
public sealed class MLContextLogAndCancellationTests
{
    private const int BatchSize = 16, CancelAfterRows = 100, StreamRows = 1_000_000;

    private static IEnumerable<FixtureImages.Row> Stream()
    {
        var pixels = Enumerable.Repeat(0.5f, 3 * 32 * 32).ToArray();
        for (int i = 0; i < StreamRows; i++) yield return new FixtureImages.Row { Image = pixels };
    }

    [TestMethod]
    public void AReadoutLogsItsPlacementAndProgressAndStopsWithinABatchOfCancelExecution()
    {
        var context = new MLContext(seed: 0);
        var messages = new List<string>();
        context.Log += (_, e) =>
        {
            if (e.Source.StartsWith(nameof(CrateAttentionTransformer), StringComparison.Ordinal) && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info)
                lock (messages) messages.Add(e.RawMessage);
        };
        using CrateModel network = FixtureImages.Import();
        IDataView stream = context.Data.LoadFromEnumerable(Stream());
        using var readout = context.Transforms.CrateAttention(network, new CrateAttentionOptions { Device = ComputeDevice.Cpu, BatchSize = BatchSize })
            .Fit(stream);
        IDataView maps = readout.Transform(stream);

        long read = 0;
        var cancelled = Assert.ThrowsExactly<OperationCanceledException>(() =>
        {
            using DataViewRowCursor cursor = maps.GetRowCursor(maps.Schema);
            ValueGetter<VBuffer<float>> getMaps = cursor.GetGetter<VBuffer<float>>(maps.Schema["Attention"]);
            VBuffer<float> values = default;
            while (cursor.MoveNext())
            {
                getMaps(ref values);
                if (++read == CancelAfterRows) MLNetInternals.CancelExecution(context);
            }
        });
        Assert.IsNotNull(cancelled);
        // Rows 97-112 form the seventh batch, run before the cancellation at row 100; the eighth batch throws at row 113.
        Assert.AreEqual(112L, read, "the cursor stops at the first batch after the cancellation");

        string[] lines;
        lock (messages) lines = messages.ToArray();
        Assert.AreEqual(1, lines.Count(l => l.StartsWith("Reading column 'Image'", StringComparison.Ordinal)), string.Join("\n", lines));
        StringAssert.Contains(lines[0], "on cpu in Float32, 16 images a batch");
        // Doubling from the first batch: reports at 16, 32, 64 images (the next would be at 128, after the cancellation).
        long[] reported = lines.Skip(1).Select(l => long.Parse(l[..l.IndexOf(' ')].Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        foreach (long expected in new long[] { 16, 32, 64 })
            CollectionAssert.Contains(reported, expected, string.Join("\n", lines));
        Assert.IsTrue(reported.All(n => n % BatchSize == 0 && n <= 112), string.Join("\n", lines));
    }

    [TestMethod]
    public void ATransformerMadeWithoutAnMLContextRunsWithoutOne()
    {
        using CrateModel network = FixtureImages.Import();
        using var transformer = new CrateAttentionTransformer(network, new CrateAttentionOptions { Device = ComputeDevice.Cpu });
        var context = new MLContext(seed: 0);
        MLNetInternals.CancelExecution(context);   // not its context: nothing to stop
        IDataView data = context.Data.LoadFromEnumerable(Stream().Take(3));
        Assert.HasCount(3, transformer.Transform(data).GetColumn<float[]>("Attention").ToArray());
    }
}
