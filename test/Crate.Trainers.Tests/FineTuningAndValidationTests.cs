using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Microsoft.ML;
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
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(24, seed: 8));
        CrateTrainerOptions options = TinyImages.Options(epochs: 2);
        options.EmbeddingDim = 48;
        options.Depth = 3;
        options.Heads = 4;
        options.HeadDim = 12;
        options.PatchSize = 8; // 16×16 images: a 2×2 grid, so the 4×4 positional embedding is resized
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
        CollectionAssert.AreEqual(before["pos_embedding"].Take(48).ToArray(), after["pos_embedding"].Take(48).ToArray(), "the [CLS] position is kept");
        Assert.HasCount(2 * 2 * 48 + 48, after["pos_embedding"], "positions resized to the 2×2 grid");
        using Tensor expected = PositionalEmbedding.Resize(reference.state_dict()["pos_embedding"], 4, 4, 2, 2);
        CollectionAssert.AreEqual(expected.flatten().data<float>().ToArray(), after["pos_embedding"], "bicubic resize of the loaded positions");
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
            options.Progress = p => { if (p.IsEpochEnd) epochs.Add(p.Epoch); };
            CrateModel model = context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model;
            CollectionAssert.AreEqual(new[] { 1, 2, 3 }, epochs, "two epochs without improvement, then stop");
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
    public void BackgroundDecodingKeepsTheNetworkBusy()
    {
        var context = new MLContext(seed: 1);
        IDataView train = Crate.Trainers.Data.ShapesDataset.LoadDataView(context, new Crate.Trainers.Data.ShapesDatasetOptions { Count = 640, Seed = 3 });
        IDataView keyed = context.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train);
        var options = new CrateTrainerOptions
        {
            ModelSize = CrateModelSize.Custom, EmbeddingDim = 96, Depth = 6, Heads = 4, HeadDim = 24, PatchSize = 4,
            ImageHeight = 32, ImageWidth = 32, Epochs = 2, BatchSize = 64, Device = Crate.Transforms.ComputeDevice.Cpu,
        };
        double wait = double.NaN;
        options.Progress = p => wait = p.DataWaitFraction;
        context.MulticlassClassification.Trainers.Crate(options).Fit(keyed);
        Console.WriteLine($"The network waited for data {wait:P1} of the time.");
        Assert.IsLessThan(0.10, wait);
    }
}
