using Crate.Transforms.Network;
using Microsoft.ML;

namespace Crate.Trainers.Tests;

/// <summary>Per-epoch checkpoints read back as networks: the last one is the network the trainer returned, bit for bit.</summary>
[TestClass]
public sealed class CrateTrainingCheckpointTests
{
    [TestMethod]
    public void EpochCheckpointsLoadAsTheNetworksOfThoseEpochs()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(24, seed: 3));
        string directory = Directory.CreateTempSubdirectory("crate-epochs-").FullName;
        try
        {
            CrateTrainerOptions options = TinyImages.Options(epochs: 2);
            options.CheckpointDirectory = directory;
            using CrateClassifierTransformer trained = context.MulticlassClassification.Trainers.Crate(options).Fit(train);
            File.WriteAllText(Path.Combine(directory, "epoch-notes.safetensors"), "not a checkpoint, and not named like one");

            IReadOnlyList<(int Epoch, string Path)> epochs = CrateTrainingCheckpoint.EpochCheckpoints(directory);
            CollectionAssert.AreEqual(new[] { 1, 2 }, epochs.Select(e => e.Epoch).ToArray());
            Assert.AreEqual(CrateTrainingCheckpoint.EpochFileName(2), Path.GetFileName(epochs[1].Path));

            using CrateModel last = CrateTrainingCheckpoint.LoadModel(epochs[1].Path);
            using CrateModel first = CrateTrainingCheckpoint.LoadModel(epochs[0].Path);
            Assert.AreEqual(trained.Model.Architecture, last.Architecture);
            CollectionAssert.AreEqual(CrateTrainerTests.Weights(trained.Model), CrateTrainerTests.Weights(last), "the last epoch's checkpoint holds the returned network");
            CollectionAssert.AreNotEqual(CrateTrainerTests.Weights(trained.Model), CrateTrainerTests.Weights(first), "the first epoch's network is an earlier one");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void AFileThatIsNotATrainingCheckpointIsRefusedByName()
    {
        string path = Path.Combine(Path.GetTempPath(), $"crate-not-a-checkpoint-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var model = new CrateModel(new CrateArchitecture { EmbeddingDim = 8, Depth = 1, Heads = 1, HeadDim = 8, PatchSize = 4, ImageHeight = 8, ImageWidth = 8, ClassCount = 2 }))
                Crate.Transforms.Checkpoints.CrateModelFile.Save(model, path);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => CrateTrainingCheckpoint.LoadModel(path));
            StringAssert.Contains(error.Message, path);
            Assert.ThrowsExactly<FileNotFoundException>(() => CrateTrainingCheckpoint.LoadModel(path + ".missing"));
            Assert.ThrowsExactly<DirectoryNotFoundException>(() => CrateTrainingCheckpoint.EpochCheckpoints(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
