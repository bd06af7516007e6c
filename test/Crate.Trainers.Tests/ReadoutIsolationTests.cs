using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

/// <summary>
/// Issue 9, items 2 and 7: a read-out never changes the network it is given, and trainings and read-outs draw from
/// generators of their own. Oracles: the network's state and the classifier's scores before and after (bit for bit),
/// eq. (10) from <see cref="CrateModel.Introspect"/> in float32, trainings run alone, and the process-wide
/// generator's state.
/// </summary>
[TestClass]
public sealed class ReadoutIsolationTests
{
    private static float[] Weights(CrateModel model) =>
        model.parameters().SelectMany(p => p.detach().cpu().to_type(ScalarType.Float32).flatten().data<float>().ToArray()).ToArray();

    private static string State(CrateModel model) =>
        $"{model.Device} training={model.training} " +
        string.Join(",", model.named_parameters().Select(p => $"{p.name}:{p.parameter.dtype}:{p.parameter.device}:{p.parameter.requires_grad}"));

    [TestMethod]
    public void AClassifierAndReadoutsInOtherPrecisionsShareOneNetworkWithoutChangingIt()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(48, seed: 1));
        using CrateClassifierTransformer classifier = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1)).Fit(train);
        CrateModel network = classifier.Model;
        string state = State(network);
        float[] weights = Weights(network);
        float[][] Scores() => classifier.Transform(train).GetColumn<float[]>("Score").ToArray();
        float[][] scores = Scores();

        CrateAttentionOptions Options(ComputePrecision precision) => new()
        {
            Normalization = classifier.Settings.Normalization, Device = ComputeDevice.Cpu, Precision = precision, Layers = [0, 1],
        };
        float[][] Maps(ComputePrecision precision, out CrateModel used)
        {
            using CrateAttentionTransformer readout = context.Transforms.CrateAttention(CrateNetworkSource.FromFittedModel(classifier), Options(precision)).Fit(train);
            used = readout.Model;
            Assert.AreEqual(precision.ToScalarType(), used.ElementType, $"{precision} read-out runs in {precision}");
            return readout.Transform(train).GetColumn<float[]>("Attention").ToArray();
        }

        // Interleaved: classifier, bfloat16 read-out, classifier, float64 read-out, float32 read-out, classifier.
        float[][] bfloat16 = Maps(ComputePrecision.BFloat16, out CrateModel bfloat16Copy);
        CollectionAssert.AreEqual(scores.SelectMany(s => s).ToArray(), Scores().SelectMany(s => s).ToArray(), "the classifier after a bfloat16 read-out");
        float[][] float64 = Maps(ComputePrecision.Float64, out _);
        float[][] float32 = Maps(ComputePrecision.Float32, out CrateModel shared);
        CollectionAssert.AreEqual(scores.SelectMany(s => s).ToArray(), Scores().SelectMany(s => s).ToArray(), "the classifier after the read-outs");
        Assert.AreSame(network, shared, "a read-out in the network's own device and precision shares it");
        Assert.AreNotSame(network, bfloat16Copy, "another precision runs a copy");
        Assert.AreEqual(state, State(network), "device, mode, element types and gradient flags unchanged");
        CollectionAssert.AreEqual(weights, Weights(network), "weights unchanged");

        // Eq. (10) by the network itself, in float32.
        using var noGrad = no_grad();
        using Tensor images = stack(train.GetColumn<float[]>("Image").Select(p => tensor(p, [3, 16, 16])).ToArray());
        using Tensor normalised = (images - 0.5f) / 0.25f;
        using CrateIntrospection readout = network.Introspect(normalised, new IntrospectionRequest { Layers = [0, 1] });
        float[] expected = stack([readout.ForLayer(0).ClsAttention!, readout.ForLayer(1).ClsAttention!], 1).flatten().data<float>().ToArray();
        float[] Flat(float[][] maps) => maps.SelectMany(m => m).ToArray();
        Assert.AreEqual(0, MaxDifference(expected, Flat(float32)), 1e-6, "float32");
        Assert.AreEqual(0, MaxDifference(expected, Flat(float64)), 1e-5, "float64");
        Assert.AreEqual(0, MaxDifference(expected, Flat(bfloat16)), 2e-2, "bfloat16 (8 significant bits)");
        Assert.IsGreaterThan(0, MaxDifference(expected, Flat(bfloat16)), "the bfloat16 path really ran in bfloat16");

        if (cuda.is_available())
        {
            float[][] onGpu = context.Transforms.CrateAttention(CrateNetworkSource.FromFittedModel(classifier), Options(ComputePrecision.Float32) with { Device = ComputeDevice.Cuda })
                .Fit(train).Transform(train).GetColumn<float[]>("Attention").ToArray();
            Assert.AreEqual(0, MaxDifference(expected, Flat(onGpu)), 1e-4, "CUDA");
            Assert.AreEqual(state, State(network), "a CUDA read-out leaves the CPU network where it was");
        }
    }

    [TestMethod]
    public void AReadoutLeavesANetworkInTrainingModeAsItFoundIt()
    {
        var architecture = new CrateArchitecture { EmbeddingDim = 16, Depth = 1, Heads = 2, HeadDim = 8, PatchSize = 4, ImageHeight = 16, ImageWidth = 16, ClassCount = 3 };
        using var generator = new Generator(1);
        using var network = new CrateModel(architecture, generator);
        network.train();
        var context = new MLContext(seed: 1);
        IDataView data = TinyImages.Keyed(context, TinyImages.Rows(4, seed: 2));
        string state = State(network);
        using (var readout = context.Transforms.CrateSegment(network, new CrateSegmentOptions { Device = ComputeDevice.Cpu }).Fit(data))
            Assert.HasCount(4, readout.Transform(data).GetColumn<bool[]>("PredictedMask").ToArray());
        using (var copy = context.Transforms.CrateSegment(network, new CrateSegmentOptions { Device = ComputeDevice.Cpu, Precision = ComputePrecision.Float64 }).Fit(data))
            Assert.HasCount(4, copy.Transform(data).GetColumn<bool[]>("PredictedMask").ToArray());
        Assert.AreEqual(state, State(network));
        Assert.IsTrue(network.training);
        Assert.IsFalse(network.parameters().First().IsInvalid, "the caller's network is never disposed by a read-out");
    }

    [TestMethod]
    public void TrainingsInterleavedInOneProcessGiveTheWeightsTheyGiveAlone()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(40, seed: 5));
        CrateTrainerOptions Options(int seed)
        {
            CrateTrainerOptions options = TinyImages.Options(epochs: 2);
            options.Seed = seed;
            options.RandomResizedCrop = true;
            options.HorizontalFlip = true;
            return options;
        }
        float[] Train(int seed)
        {
            using CrateClassifierTransformer fitted = context.MulticlassClassification.Trainers.Crate(Options(seed)).Fit(train);
            return Weights(fitted.Model);
        }

        using Tensor before = torch.random.get_rng_state();
        float[] aloneA = Train(11), aloneB = Train(12);
        using (Tensor after = torch.random.get_rng_state())
            Assert.IsTrue(before.equal(after).all().item<bool>(), "training neither reads nor advances the process-wide generator");

        // Two trainings at once, while other code reseeds and draws from the process-wide generator.
        using var stop = new CancellationTokenSource();
        Task noise = Task.Run(() =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                torch.manual_seed(i);
                using Tensor drawn = randn(64);
                Thread.Sleep(1);
            }
        });
        Task<float[]> a = Task.Run(() => Train(11)), b = Task.Run(() => Train(12));
        Task.WaitAll(a, b);
        stop.Cancel();
        noise.Wait();
        CollectionAssert.AreEqual(aloneA, a.Result, "seed 11 interleaved");
        CollectionAssert.AreEqual(aloneB, b.Result, "seed 12 interleaved");
        CollectionAssert.AreNotEqual(aloneA, aloneB);
    }

    [TestMethod]
    public void LoadingAndCopyingNetworksLeaveTheProcessWideGeneratorAlone()
    {
        var architecture = new CrateArchitecture { EmbeddingDim = 16, Depth = 1, Heads = 2, HeadDim = 8, PatchSize = 4, ImageHeight = 16, ImageWidth = 16, ClassCount = 3 };
        string path = Path.Combine(Path.GetTempPath(), $"crate-rng-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var generator = new Generator(2))
            using (var made = new CrateModel(architecture, generator))
                CrateModelFile.Save(made, path);
            using Tensor before = torch.random.get_rng_state();
            using (CrateModel loaded = CrateModelFile.Load(path))
            using (CrateModel copy = loaded.Copy(CPU, ScalarType.BFloat16))
                Assert.AreEqual(ScalarType.BFloat16, copy.ElementType);
            using Tensor after = torch.random.get_rng_state();
            Assert.IsTrue(before.equal(after).all().item<bool>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double MaxDifference(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        double largest = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double difference = Math.Abs(expected[i] - actual[i]);
            if (double.IsNaN(difference)) return double.NaN;
            largest = Math.Max(largest, difference);
        }
        return largest;
    }
}
