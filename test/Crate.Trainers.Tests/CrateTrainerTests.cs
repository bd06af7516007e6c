using System.Reflection;
using Crate.Testing;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Tests;

[TestClass]
public sealed class CrateTrainerTests
{
    internal static float[] Weights(CrateModel model) =>
        model.parameters().SelectMany(p => p.detach().cpu().flatten().data<float>().ToArray()).ToArray();

    [TestMethod]
    public void LearnsTinyImagesAndScoresAsAnMLNetClassifier()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(96, seed: 1));
        IDataView test = TinyImages.Keyed(context, TinyImages.Rows(30, seed: 2));
        var pipeline = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 8))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        ITransformer model = pipeline.Fit(train);
        IDataView scored = model.Transform(test);
        MulticlassClassificationMetrics metrics = context.MulticlassClassification.Evaluate(scored);
        Console.WriteLine($"tiny-images accuracy {metrics.MicroAccuracy:P1}");
        NumericAssert.IsAbove(0.9, metrics.MicroAccuracy, "accuracy after 8 epochs");
        float[][] scores = scored.GetColumn<float[]>("Score").ToArray();
        // Three float32 probabilities sum to 1 within a few u.
        foreach (float[] row in scores)
            NumericAssert.AreClose(1.0, row.Sum(), new Tolerance(1e-6), "scores are probabilities");
        string[] predicted = scored.GetColumn<string>("PredictedText").ToArray();
        CollectionAssert.IsSubsetOf(predicted.Distinct().ToArray(), TinyImages.Classes);
    }

    [TestMethod]
    public void MixedPrecisionTrainsFloat32MastersThroughABFloat16Copy()
    {
        var context = new MLContext(seed: 1);
        var messages = new List<string>();
        context.Log += (_, e) => messages.Add(e.Message);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(96, seed: 1));
        IDataView test = TinyImages.Keyed(context, TinyImages.Rows(30, seed: 2));
        CrateTrainerOptions options = TinyImages.Options(epochs: 8);
        options.MixedPrecisionOnCpu = true;
        CrateClassifierTransformer mixed = context.MulticlassClassification.Trainers.Crate(options).Fit(train);
        Assert.IsTrue(messages.Any(m => m.Contains("Mixed precision: bfloat16 forward and backward")), "the bfloat16 path ran");
        Assert.IsTrue(mixed.Model.parameters().All(p => p.dtype == ScalarType.Float32), "master weights stay float32");
        double accuracy = context.MulticlassClassification.Evaluate(mixed.Transform(test)).MicroAccuracy;
        Console.WriteLine($"mixed-precision tiny-images accuracy {accuracy:P1}");
        NumericAssert.IsAbove(0.9, accuracy, "accuracy after 8 epochs");
    }

    /// <summary>bfloat16 is the top half of a float32, rounded to nearest, ties to even: computed here from the bits.</summary>
    private static float RoundToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return BitConverter.UInt32BitsToSingle((bits + 0x7FFFu + ((bits >> 16) & 1)) & 0xFFFF0000u);
    }

    [TestMethod]
    public void TheBFloat16CopyHoldsTheRoundedMastersAndHandsItsGradientsBack()
    {
        using var master = new CrateModel(TinyImages.Options().ToArchitecture(3));
        using var copy = new MixedPrecisionCopy(master, CPU);
        copy.PullWeights();
        Dictionary<string, Tensor> copies = copy.Compute.state_dict();
        foreach ((string name, Tensor weight) in master.state_dict())
        {
            Assert.AreEqual(ScalarType.BFloat16, copies[name].dtype, name);
            float[] expected = weight.detach().flatten().data<float>().ToArray().Select(RoundToBFloat16).ToArray();
            CollectionAssert.AreEqual(expected, copies[name].detach().to(ScalarType.Float32).flatten().data<float>().ToArray(), $"{name} rounded to bfloat16");
        }
        using (var scope = NewDisposeScope())
        {
            Tensor images = randn(4, 3, TinyImages.Side, TinyImages.Side).to(ScalarType.BFloat16);
            copy.Compute.forward(images).to(ScalarType.Float32).square().sum().backward();
        }
        copy.PushGradients();
        foreach ((string name, Parameter parameter) in master.named_parameters())
        {
            Parameter computed = copy.Compute.named_parameters().Single(p => p.name == name).parameter;
            Assert.AreEqual(ScalarType.Float32, parameter.grad!.dtype, $"{name}: the master's gradient is float32");
            // bfloat16 → float32 is exact: the master's gradient holds the copy's values with 16 zero low bits.
            NumericAssert.AreEqual(computed.grad!.to(ScalarType.Float32), parameter.grad, $"{name} gradient");
        }
        Assert.IsTrue(master.parameters().Any(p => p.grad!.abs().sum().item<float>() > 0), "premise: some gradient is non-zero");
    }

    [TestMethod]
    public void OneSeedGivesIdenticalWeights()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(40, seed: 3));
        CrateTrainerOptions options = TinyImages.Options(epochs: 2);
        options.RandomResizedCrop = true;
        options.HorizontalFlip = true;
        float[] first = Weights(context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model);
        float[] second = Weights(context.MulticlassClassification.Trainers.Crate(options).Fit(train).Model);
        CollectionAssert.AreEqual(first, second);
    }

    [TestMethod]
    public void ResumingEqualsTheUninterruptedRun()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(40, seed: 4));
        string directory = Directory.CreateTempSubdirectory("crate-resume-").FullName;
        try
        {
            CrateTrainerOptions full = TinyImages.Options(epochs: 4);
            full.RandomResizedCrop = full.HorizontalFlip = true;
            float[] uninterrupted = Weights(context.MulticlassClassification.Trainers.Crate(full).Fit(train).Model);

            CrateTrainerOptions first = TinyImages.Options(epochs: 4);
            first.RandomResizedCrop = first.HorizontalFlip = true;
            first.CheckpointDirectory = directory;
            first.CheckpointEveryEpochs = 2;
            using var cancel = new CancellationTokenSource();
            // 40 rows in batches of 8 are 5 steps an epoch: stop partway through epoch 3, after a checkpoint at epoch 2.
            first.Progress = p => { if (p.Step >= 12) cancel.Cancel(); };
            first.LogEverySteps = 1;
            first.Cancellation = cancel.Token;
            context.MulticlassClassification.Trainers.Crate(first).Fit(train);
            string checkpoint = Directory.GetFiles(directory, "cancelled-step-*.safetensors").Single();
            Assert.IsFalse(Directory.GetFiles(directory, "*.tmp*").Any(), "no half-written files");

            CrateTrainerOptions resumed = TinyImages.Options(epochs: 4);
            resumed.RandomResizedCrop = resumed.HorizontalFlip = true;
            resumed.ResumeFrom = checkpoint;
            CollectionAssert.AreEqual(uninterrupted, Weights(context.MulticlassClassification.Trainers.Crate(resumed).Fit(train).Model));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void SavedPipelineScoresIdenticallyInAFreshContext()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(30, seed: 5));
        ITransformer model = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel")).Fit(train);
        float[][] before = model.Transform(train).GetColumn<float[]>("Score").ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"crate-classifier-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, model, train.Schema, path);
            var fresh = new MLContext(seed: 9);
            ITransformer loaded = CratePipelineFile.Load(fresh, path, out DataViewSchema schema);
            IDataView data = TinyImages.Keyed(fresh, TinyImages.Rows(30, seed: 5));
            float[][] after = loaded.Transform(data).GetColumn<float[]>("Score").ToArray();
            for (int i = 0; i < before.Length; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i}");
            Assert.AreEqual(train.Schema.Count, schema.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void SavedPipelineScoresIdenticallyInANewProcess()
    {
        var context = new MLContext(seed: 1);
        var shapes = new Crate.Trainers.Data.ShapesDatasetOptions { Count = 64, Seed = 1 };
        IDataView train = Crate.Trainers.Data.ShapesDataset.LoadDataView(context, shapes);
        CrateTrainerOptions options = TinyImages.Options(epochs: 1);
        (options.ImageHeight, options.ImageWidth, options.PatchSize) = (32, 32, 8);
        ITransformer model = context.Transforms.Conversion.MapValueToKey("Label").Append(context.MulticlassClassification.Trainers.Crate(options)).Fit(train);
        IDataView test = Crate.Trainers.Data.ShapesDataset.LoadDataView(context, shapes with { Count = 5, Seed = 2 });
        string[] expected = model.Transform(test).GetColumn<float[]>("Score")
            .Select(s => string.Join(' ', s.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"crate-new-process-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, model, train.Schema, path);
            string root = typeof(CrateTrainerTests).Assembly.GetCustomAttributes<System.Reflection.AssemblyMetadataAttribute>()
                .Single(a => a.Key == "RepositoryRoot").Value!;
            var start = new System.Diagnostics.ProcessStartInfo("dotnet",
                ["run", "-c", "Release", "--project", Path.Combine(root, "samples", "Crate.Quickstart"), "--", "--score", path, "--test", "5"])
            { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            using var process = System.Diagnostics.Process.Start(start)!;
            Task<string> errors = process.StandardError.ReadToEndAsync();
            string[] lines = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.Length > 0 && char.IsDigit(l[0])).ToArray();
            process.WaitForExit();
            Assert.AreEqual(0, process.ExitCode, errors.Result);
            CollectionAssert.AreEqual(expected, lines, "scores printed by another process");
        }
        finally
        {
            File.Delete(path);
        }
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public string PredictedText { get; set; } = "";
    }

    [TestMethod]
    public void PredictionEngineAgreesWithBatchedScoring()
    {
        var context = new MLContext(seed: 1);
        TinyImages.Row[] rows = TinyImages.Rows(30, seed: 6);
        IDataView raw = context.Data.LoadFromEnumerable(rows);
        ITransformer model = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 2)))
            .Append(context.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel")).Fit(raw);
        float[][] batched = model.Transform(raw).GetColumn<float[]>("Score").ToArray();
        var engine = context.Model.CreatePredictionEngine<TinyImages.Row, Prediction>(model);
        Prediction single = engine.Predict(rows[4]);
        // Batch of 30 against batch of 1: the same float32 network in other summation orders (d 32, two layers), so the
        // probabilities agree to a few hundred u.
        NumericAssert.AreAllClose(batched[4], single.Score, new Tolerance(1e-5), "row 4 scored alone");
        CollectionAssert.Contains(TinyImages.Classes, single.PredictedText);
    }

    [TestMethod]
    public void OutputSchemaIsExactlyTheFittedOne()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(12, seed: 7));
        var trainer = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1));
        SchemaShape predicted = trainer.GetOutputSchema(MLNetInternals.ShapeOf(train.Schema));
        SchemaShape actual = MLNetInternals.ShapeOf(trainer.Fit(train).GetOutputSchema(train.Schema));
        static string Describe(SchemaShape.Column c) => $"{c.Name}:{c.Kind}:{c.ItemType}:{c.IsKey}:[{string.Join(",", c.Annotations.Select(a => $"{a.Name}:{a.ItemType}"))}]";
        CollectionAssert.AreEqual(actual.Select(Describe).ToArray(), predicted.Select(Describe).ToArray());
    }
}
