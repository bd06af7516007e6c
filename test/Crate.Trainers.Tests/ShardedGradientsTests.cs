using Crate.Testing;
using Crate.Transforms.Network;
using Microsoft.ML;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

/// <summary>
/// The sharded step against its oracle, the whole batch's own backward pass: the mean of the batch's cross-entropy is
/// the sum over shards of each shard's mean weighted by its share, so the summed gradients must be the whole batch's
/// up to float32 rounding, whatever the shard sizes.
/// </summary>
[TestClass]
public sealed class ShardedGradientsTests
{
    private const double Smoothing = 0.1;

    private static CrateModel TinyCrate()
    {
        torch.manual_seed(3);
        var model = new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 16, Depth = 2, Heads = 2, HeadDim = 8, PatchSize = 4, ImageHeight = 8, ImageWidth = 8, ClassCount = 5,
        });
        model.train();
        return model;
    }

    /// <summary>The whole batch's loss and gradients by autograd, into zeroed gradients.</summary>
    private static (double Loss, Tensor[] Gradients) WholeBatch(CrateModel model, Parameter[] parameters, Tensor images, Tensor labels)
    {
        foreach (Parameter p in parameters) p.grad?.zero_();
        using Tensor loss = nn.functional.cross_entropy(model.forward(images), labels, label_smoothing: Smoothing);
        loss.backward();
        return (loss.item<float>(), parameters.Select(p => p.grad!.clone()).ToArray());
    }

    /// <summary>float32 sums taken in another order: each entry is off by rounding of the order of 100 ulps of the
    /// largest entry (sums over the batch and the tokens), far below 10⁻⁵ of it.</summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        double scale = Math.Max(expected.abs().max().item<float>(), 1e-3);
        NumericAssert.AreClose(expected, actual, new Tolerance(1e-5 * scale), what);
    }

    [TestMethod]
    [DataRow(7, 3)]  // shards of 3, 2, 2 images
    [DataRow(2, 3)]  // fewer images than shards: one shard sits out
    [DataRow(1, 2)]  // one image (an epoch's last batch can be): one shard
    [DataRow(8, 2)]
    public void ShardsSumToTheWholeBatchsLossAndGradients(int count, int shardCount)
    {
        using CrateModel model = TinyCrate();
        Parameter[] parameters = model.parameters().ToArray();
        using Tensor images = torch.randn(count, 3, 8, 8, generator: new Generator(11));
        using Tensor labels = torch.tensor(Enumerable.Range(0, count).Select(i => (long)(i * 3 % 5)).ToArray());
        using var shards = new ShardedGradients(model, parameters, Smoothing, shardCount);

        // First with no gradients yet (the shards' sums become them), then into the zeroed gradients the trainer leaves.
        foreach (bool fresh in new[] { true, false })
        {
            if (!fresh) foreach (Parameter p in parameters) p.grad!.zero_();
            using var scope = NewDisposeScope();
            (Tensor loss, Tensor correct) = shards.Backward(images, labels);
            Tensor[] sharded = parameters.Select(p => p.grad!.clone()).ToArray();
            long expectedCorrect;
            using (no_grad()) expectedCorrect = model.forward(images).argmax(-1).eq(labels).sum().item<long>();
            (double expectedLoss, Tensor[] expected) = WholeBatch(model, parameters, images, labels);

            NumericAssert.AreClose(expectedLoss, loss.item<float>(), new Tolerance(0, 1e-5), "loss");
            Assert.AreEqual(expectedCorrect, correct.item<long>(), "correct predictions");
            for (int p = 0; p < parameters.Length; p++) AssertClose(expected[p], sharded[p], $"gradient {p} ({(fresh ? "fresh" : "zeroed")})");
        }
    }

    [TestMethod]
    public void OtherThreadsKeepTheProcesssThreadCount()
    {
        int before = torch.get_num_threads();
        using CrateModel model = TinyCrate();
        using (var shards = new ShardedGradients(model, model.parameters().ToArray(), Smoothing, 2))
        {
            using var scope = NewDisposeScope();
            shards.Backward(torch.randn(4, 3, 8, 8), torch.tensor(new long[] { 0, 1, 2, 3 }));
            // A thread that first asks while the workers run single-threaded gets the process's count, not theirs.
            int newcomer = 0;
            var thread = new Thread(() => newcomer = torch.get_num_threads());
            thread.Start();
            thread.Join();
            Assert.AreEqual(before, newcomer, "a thread new to libtorch during the run");
            Assert.AreEqual(before, torch.get_num_threads(), "the calling thread during the run");
        }
        Assert.AreEqual(before, torch.get_num_threads(), "the calling thread after the run");
    }

    [TestMethod]
    public void AShardsFailureReachesTheCaller()
    {
        using CrateModel model = TinyCrate();
        using var shards = new ShardedGradients(model, model.parameters().ToArray(), Smoothing, 2);
        using Tensor images = torch.randn(4, 3, 8, 8);
        // Class 9 of a 5-class head: libtorch refuses the target in the second shard.
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => shards.Backward(images, torch.tensor(new long[] { 0, 1, 2, 9 })));
        StringAssert.Contains(error.Message, "shard");
        StringAssert.Contains(error.Message, "9");
        // The workers live on: the next batch trains.
        using var scope = NewDisposeScope();
        (Tensor loss, _) = shards.Backward(images, torch.tensor(new long[] { 0, 1, 2, 3 }));
        NumericAssert.IsAbove(0, loss.item<float>(), "the next batch's loss");
    }

    [TestMethod]
    public void TheTrainerShardsAsAskedAndStaysDeterministic()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(20, seed: 4));
        var logs = new List<string>();
        context.Log += (_, e) => { if (e.Message.Contains("shards", StringComparison.Ordinal)) lock (logs) logs.Add(e.Message); };
        float[] Train()
        {
            CrateTrainerOptions options = TinyImages.Options(epochs: 1);
            options.NumberOfThreads = 3;
            return CrateTrainerTests.Weights(context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model);
        }
        float[] first = Train();
        // NaN equals NaN here: identical runs must also be finite ones.
        Assert.IsTrue(first.All(float.IsFinite), "the trained weights are finite");
        CollectionAssert.AreEqual(first, Train());
        Assert.IsTrue(logs.Any(m => m.Contains("3 shards", StringComparison.Ordinal)), string.Join("\n", logs));
    }
}
