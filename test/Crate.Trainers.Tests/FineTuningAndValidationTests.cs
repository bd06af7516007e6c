using System.Collections.Concurrent;
using Crate.Testing;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

[TestClass]
public sealed class FineTuningAndValidationTests
{
    private static Dictionary<string, float[]> Weights(CrateModel model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().flatten().data<float>().ToArray());

    [TestMethod]
    public void FineTuningAReferenceCheckpointWithAFrozenBackboneTrainsOnlyANewHead()
    {
        // crate_square.pt: the reference layout (module.-prefixed state_dict), d 48, 3 layers, 4 heads, patch 8, 32×32, 7 classes.
        string checkpoint = Path.Combine(AppContext.BaseDirectory, "Fixtures", "crate_square.pt");
        var context = new MLContext(seed: 1);
        // 40×48 images: a 5×6 grid, so the 4×4 positional embedding is resized, to the grid PyTorch resized it to.
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(24, seed: 8, height: 40, width: 48), height: 40, width: 48);
        CrateTrainerOptions options = TinyImages.Options(epochs: 2);
        options.EmbeddingDim = 48;
        options.Depth = 3;
        options.Heads = 4;
        options.HeadDim = 12;
        options.PatchSize = 8;
        (options.ImageHeight, options.ImageWidth) = (40, 48);
        options.Optimizer = CrateOptimizerKind.AdamW;
        options.LearningRate = 5e-5;
        options.WeightDecay = 0.01;
        options.InitialWeightsPath = checkpoint;
        options.FreezeBackbone = true;
        CrateModel tuned = context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model;
        using CrateModel reference = CrateCheckpointImporter.Import(checkpoint, new CheckpointImportOptions { Heads = 4 });
        Dictionary<string, float[]> before = Weights(reference), after = Weights(tuned);
        Assert.AreEqual(3, tuned.Architecture.ClassCount, "a new head for the 3 classes");
        foreach (string name in after.Keys.Where(n => !n.StartsWith("head", StringComparison.Ordinal) && n != "pos_embedding"))
            CollectionAssert.AreEqual(before[name], after[name], $"{name} is frozen");
        // PyTorch's cat(pos[:, :1], bicubic(pos[:, 1:] as 4×4 → 5×6, align_corners=False)) of the same checkpoint
        // (Fixtures/README.md): 16-term weighted sums of N(0, 1) values, ≲ 16·u·5 ≈ 5e-6 apart in float32.
        byte[] bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "crate_square.interp_pos_embedding.f32"));
        float[] resized = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, resized, 0, bytes.Length);
        Assert.HasCount(31 * 48, resized, "fixture [1, 31, 48]");
        CollectionAssert.AreEqual(before["pos_embedding"].Take(48).ToArray(), after["pos_embedding"].Take(48).ToArray(), "the [CLS] position is kept");
        NumericAssert.AreAllClose(resized, after["pos_embedding"], new Tolerance(2e-5), "positions resized to the 5×6 grid");
    }

    [TestMethod]
    public void ASavedPipelineStartsAFineTuningOfItsNetwork()
    {
        var context = new MLContext(seed: 1);
        IDataView raw = TinyImages.Load(context, TinyImages.Rows(12, seed: 11));
        using var trained = (TransformerChain<CrateClassifierTransformer>)context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1))).Fit(raw);
        string path = Path.Combine(Path.GetTempPath(), $"crate-pipeline-start-{Guid.NewGuid():N}.zip");
        try
        {
            Transforms.MLNet.CratePipelineFile.Save(context, trained, raw.Schema, path);
            // Two classes instead of three: a new head, and the frozen backbone stays the pipeline's, weight for weight.
            CrateTrainerOptions options = TinyImages.Options(epochs: 1);
            options.InitialWeightsPath = path;
            options.FreezeBackbone = true;
            IDataView twoClasses = TinyImages.Keyed(context, TinyImages.Rows(12, seed: 12).Where(r => r.Label != "top"));
            using CrateClassifierTransformer tuned = context.MulticlassClassification.Trainers.Crate(options).Fit(twoClasses);
            Dictionary<string, float[]> before = Weights(trained.LastTransformer.Model), after = Weights(tuned.Model);
            Assert.AreEqual(2, tuned.Model.Architecture.ClassCount);
            foreach (string name in after.Keys.Where(n => !n.StartsWith("head", StringComparison.Ordinal)))
                CollectionAssert.AreEqual(before[name], after[name], $"{name} comes from the pipeline file and stays frozen");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void EarlyStoppingKeepsTheBestWeights()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(24, seed: 9));
        IDataView validation = TinyImages.Keyed(context, TinyImages.Rows(12, seed: 10));
        string directory = Directory.CreateTempSubdirectory("crate-early-").FullName;
        try
        {
            CrateTrainerOptions options = TinyImages.Options(epochs: 30);
            options.LearningRate = 1e-9; // nothing improves after the first epoch
            options.ValidationSet = validation;
            options.EarlyStoppingPatience = 2;
            options.CheckpointDirectory = directory;
            options.CheckpointEveryEpochs = 1;
            var epochs = new List<int>();
            var waits = new List<double>();
            options.Progress = p =>
            {
                if (!p.IsEpochEnd) return;
                epochs.Add(p.Epoch);
                waits.Add(p.DataWaitFraction);
            };
            CrateModel model = context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model;
            CollectionAssert.AreEqual(new[] { 1, 2, 3 }, epochs, "two epochs without improvement, then stop");
            foreach (double wait in waits)
            {
                NumericAssert.IsAtLeast(0, wait, "share of the time spent waiting for data");
                NumericAssert.IsAtMost(1, wait, "share of the time spent waiting for data");
            }
            var (_, firstEpoch, _, _) = TrainingCheckpoint.Read(Path.Combine(directory, "epoch-0001.safetensors"));
            foreach ((string name, Tensor value) in model.state_dict())
                CollectionAssert.AreEqual(firstEpoch[name].flatten().data<float>().ToArray(), value.detach().flatten().data<float>().ToArray(), name);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void BackgroundDecodingRunsAheadOfTheNetworkOnItsOwnThread()
    {
        // Rows are produced lazily and record which thread pulled them: the stream's decoding thread, not the consumer.
        const int batchSize = 4, prefetch = 2;
        var readers = new ConcurrentBag<int>();
        int rowsRead = 0;
        TinyImages.Row[] rows = TinyImages.Rows(40, seed: 11);
        IEnumerable<TinyImages.Row> Recorded()
        {
            foreach (TinyImages.Row row in rows)
            {
                readers.Add(Environment.CurrentManagedThreadId);
                Interlocked.Increment(ref rowsRead);
                yield return row;
            }
        }
        var context = new MLContext(seed: 1);
        IDataView data = TinyImages.Keyed(context, Recorded());
        // Fitting the label's key map read every row on this thread; only what the stream reads counts.
        readers.Clear();
        rowsRead = 0;
        CrateTrainerOptions options = TinyImages.Options();
        options.PrefetchBatches = prefetch;
        var stream = new ImageBatchStream(classCount: 3, options);
        int batches = 0;
        foreach (ImageBatch batch in stream.Read(data, Enumerable.Range(0, 40).ToArray(), batchSize, 0, null, CancellationToken.None))
        {
            using (batch)
            {
                if (batches++ > 0) continue;
                // Holding the first batch, the network lets the decoder fill its queue of `prefetch` batches and start the
                // next: rows of three batches get read although only one was taken. A decoder on the consumer's thread
                // never gets there; the wait only guards against hanging in that case, it measures nothing.
                Assert.IsTrue(SpinWait.SpinUntil(() => Volatile.Read(ref rowsRead) >= batchSize * (1 + prefetch), TimeSpan.FromMinutes(2)),
                    $"only {rowsRead} rows read while the first batch was held");
            }
        }
        Assert.AreEqual(10, batches);
        Assert.IsFalse(readers.Contains(Environment.CurrentManagedThreadId), "rows are decoded off the consumer's thread");
    }
}
