using System.Runtime;
using Crate.Trainers.Optimization;
using Microsoft.ML;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

/// <summary>
/// Training frees every tensor it allocates: after a run and the disposal of the classifier it returned, as many
/// TorchSharp tensors are alive as before it, whether the run ended, was cancelled, resumed from a checkpoint, ran in
/// mixed precision or failed.
///
/// The counter is TorchSharp's own <see cref="Tensor.TotalCount"/>: every Tensor (parameters included) adds one when
/// it is made and takes one away when it is disposed. The finalizer disposes too, so a leaked tensor that the garbage
/// collector finds stops counting; to keep that from hiding a leak, each run happens inside a no-GC region, and the
/// test checks that no collection ran (a run that collected would fail, not pass). The count is process-wide; this
/// assembly's tests run one at a time (AssemblySetup), and TorchSharp makes tensors only when asked.
///
/// One quirk of TorchSharp 0.107 is counted by hand: <c>new Parameter(tensor)</c> takes the tensor's native handle
/// (MoveHandle) without taking it off the count, so every Parameter built leaves exactly one count behind and no
/// memory (the handle lives on in the Parameter, which frees it). A network of P parameters adds P when it is
/// built and P more for each change of element type or device (Module.to builds new Parameters). Each run's
/// expected count is therefore P times the networks it builds, listed in each test. The control
/// <see cref="TheCounterSeesATensorLeftUndisposedAndOneCountPerParameterBuilt"/> shows both: one tensor left
/// undisposed is one more alive, and a Parameter built and disposed is one more count, no other.
/// </summary>
[TestClass]
public sealed class TensorOwnershipTests
{
    /// <summary>Managed bytes a tiny run may allocate without a collection (a tiny run allocates a few tens of MB).</summary>
    private const long NoGcBudgetBytes = 240L << 20;

    private static CrateTrainerOptions Tiny(int epochs = 2)
    {
        CrateTrainerOptions options = TinyImages.Options(epochs);
        options.GradientClipNorm = 1.0;
        options.LogEverySteps = 1;
        return options;
    }

    /// <summary>Live tensors after <paramref name="run"/> minus before, with no garbage collection in between.</summary>
    private static long TensorGrowth(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Starting the region may collect; what that finds is finalized before the count is taken. Collections are
        // counted from here.
        Assert.IsTrue(GC.TryStartNoGCRegion(NoGcBudgetBytes), "premise: a no-GC region starts");
        GC.WaitForPendingFinalizers();
        long before = Tensor.TotalCount;
        int collections = GC.CollectionCount(0);
        try
        {
            run();
        }
        finally
        {
            if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        long after = Tensor.TotalCount;
        Assert.AreEqual(collections, GC.CollectionCount(0), "premise: no garbage collection ran, so no finalizer disposed a leaked tensor");
        return after - before;
    }

    private static void FitAndDispose(MLContext context, IDataView train, CrateTrainerOptions options)
    {
        using CrateClassifierTransformer trained = context.MulticlassClassification.Trainers.Crate(options).Fit(train);
        Assert.IsTrue(trained.Model.parameters().Any(), "premise: a trained network came back");
    }

    /// <summary>P: the parameters of the tiny network every run here trains.</summary>
    private static readonly int TinyParameters = CountParameters();

    private static int CountParameters()
    {
        using var model = new Crate.Transforms.Network.CrateModel(TinyImages.Options().ToArchitecture(TinyImages.Classes.Length));
        return model.parameters().Count();
    }

    [TestMethod]
    public void TheCounterSeesATensorLeftUndisposedAndOneCountPerParameterBuilt()
    {
        Tensor? leaked = null;
        long growth = TensorGrowth(() => leaked = zeros(3));
        Assert.AreEqual(1, growth, "one tensor made and not disposed is one more alive");
        leaked!.Dispose();
        Assert.AreEqual(0, TensorGrowth(() => { using Tensor t = zeros(3); }), "and none when it is disposed");
        Assert.AreEqual(1, TensorGrowth(() => { using var p = new Parameter(zeros(3)); }), "premise of the hand count: TorchSharp's Parameter(tensor) leaves one count");
        Assert.AreEqual(TinyParameters, TensorGrowth(() => { using var m = new Crate.Transforms.Network.CrateModel(TinyImages.Options().ToArchitecture(3)); }),
            "premise of the hand count: a network built and disposed leaves its P");
    }

    [TestMethod]
    public void ANormalRunWithCheckpointsValidationAndClippingFreesEverything()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(16, seed: 3));
        string directory = Directory.CreateTempSubdirectory("crate-owned-").FullName;
        try
        {
            CrateTrainerOptions options = Tiny(epochs: 2);
            options.CheckpointDirectory = directory;
            options.CheckpointEveryEpochs = 1;
            options.ValidationSet = TinyImages.Keyed(context, TinyImages.Rows(6, seed: 4));
            options.EarlyStoppingPatience = 5;
            // Built: the network (P). Everything else the run made is freed.
            Assert.AreEqual(TinyParameters, TensorGrowth(() => FitAndDispose(context, train, options)), "live tensors after the run minus before");
            Assert.HasCount(2, Directory.GetFiles(directory, "epoch-*.safetensors"), "premise: a checkpoint per epoch was written");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void ACancelledRunAndItsResumptionFreeEverything()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(16, seed: 3));
        string directory = Directory.CreateTempSubdirectory("crate-owned-").FullName;
        try
        {
            using var cancel = new CancellationTokenSource();
            CrateTrainerOptions first = Tiny(epochs: 3);
            first.CheckpointDirectory = directory;
            first.ValidationSet = TinyImages.Keyed(context, TinyImages.Rows(6, seed: 4));
            // 16 rows in batches of 8: 2 steps an epoch; cancel in the second epoch, after best weights exist.
            first.Progress = p => { if (p.Step >= 3) cancel.Cancel(); };
            first.Cancellation = cancel.Token;
            Assert.AreEqual(TinyParameters, TensorGrowth(() => FitAndDispose(context, train, first)), "cancelled run: the network's P");
            string checkpoint = Directory.GetFiles(directory, "cancelled-step-*.safetensors").Single();

            CrateTrainerOptions resumed = Tiny(epochs: 3);
            resumed.ResumeFrom = checkpoint;
            resumed.ValidationSet = first.ValidationSet;
            Assert.AreEqual(TinyParameters, TensorGrowth(() => FitAndDispose(context, train, resumed)), "resumed run: the network's P");

            // A checkpoint of another network fails after its tensors were read: they are freed too.
            CrateTrainerOptions other = Tiny(epochs: 3);
            other.EmbeddingDim = 16;
            other.HeadDim = 8;
            other.ResumeFrom = checkpoint;
            long growth = TensorGrowth(() => Assert.ThrowsExactly<InvalidDataException>(() => context.MulticlassClassification.Trainers.Crate(other).Fit(train)));
            Assert.AreEqual(TinyParameters, growth, "resuming from a checkpoint of another architecture: the network's P (same count of parameters)");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void AMixedPrecisionRunFreesEverything()
    {
        var context = new MLContext(seed: 1);
        var messages = new List<string>();
        context.Log += (_, e) => messages.Add(e.Message);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(16, seed: 3));
        CrateTrainerOptions options = Tiny(epochs: 2);
        options.MixedPrecisionOnCpu = true;
        // Built: the float32 network, its copy, and the copy's change to bfloat16 (3P).
        Assert.AreEqual(3 * TinyParameters, TensorGrowth(() => FitAndDispose(context, train, options)), "mixed-precision run");
        Assert.IsTrue(messages.Any(m => m.Contains("Mixed precision: bfloat16 forward and backward")), "premise: the bfloat16 path ran");
    }

    [TestMethod]
    public void ARunThatFailsPartwayFreesEverything()
    {
        var context = new MLContext(seed: 1);
        TinyImages.Row[] rows = TinyImages.Rows(16, seed: 3);
        // The key mapping is learned without "unknown": row 12's label is then missing (key 0), found in the second batch.
        var mapping = context.Transforms.Conversion.MapValueToKey("Label").Fit(TinyImages.Load(context, rows));
        rows[12].Label = "unknown";
        IDataView train = mapping.Transform(TinyImages.Load(context, rows));
        CrateTrainerOptions options = Tiny(epochs: 2);
        options.MixedPrecisionOnCpu = true;
        long growth = TensorGrowth(() =>
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => context.MulticlassClassification.Trainers.Crate(options).Fit(train));
            StringAssert.Contains(error.Message, "row 12");
        });
        Assert.AreEqual(3 * TinyParameters, growth, "a mixed-precision run that throws in its first epoch: the network, its copy and the copy's cast");
    }

    [TestMethod]
    public void TheOptimizerOwnsItsStateAndItsCheckpointCopiesAreTheCallers()
    {
        long growth = TensorGrowth(() =>
        {
            using var weight = new Parameter(ones(4));
            using (var g = ones(4)) weight.grad = g;
            Dictionary<string, Tensor> saved;
            using (var adam = new AdamWOptimizer([weight], 0.1, 0.01))
            {
                adam.Step();
                adam.ZeroGrad();
                saved = adam.StateDict();
                Assert.HasCount(3, saved, "premise: steps and two moments");
                adam.LoadStateDict(saved);
            }
            foreach (Tensor t in saved.Values) t.Dispose();
            using (Tensor? g = weight.grad) Assert.IsNotNull(g);
        });
        Assert.AreEqual(1, growth, "the optimizer's moments go with it, the state dict's copies with the caller: only the Parameter's count stays");
    }
}
