using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Tests;

/// <summary>
/// The trainer in ML.NET's shape: an ITrainerEstimator with TrainerInfo, the (labelColumnName, featureColumnName)
/// overload, cross-validation through ML.NET's own CrossValidate (its metrics must be those of fitting and evaluating
/// each fold by hand on ML.NET's own split of the data, the oracle), and MLContext.CancelExecution stopping a run at
/// the next step with ML.NET's OperationCanceledException.
/// </summary>
[TestClass]
public sealed class TrainerMLNetShapeTests
{
    [TestMethod]
    public void TheDefaultsAreTheOnesDocsEmergenceMeasured()
    {
        // docs/emergence.md, "Defaults that train": from scratch AdamW 1e-3 with weight decay 0.05, per step, no crops;
        // fine-tuning keeps the reference's AdamW values; Lion keeps its own.
        var scratch = new CrateTrainerOptions();
        Assert.AreEqual((CrateOptimizerKind.AdamW, ScheduleGranularity.PerStep, false, CrateInitialization.Orthogonal),
            (scratch.Optimizer, scratch.Schedule, scratch.RandomResizedCrop, scratch.Initialization));
        Assert.AreEqual((1e-3, 0.05), (scratch.EffectiveLearningRate, scratch.EffectiveWeightDecay));
        var fineTuning = new CrateTrainerOptions { InitialWeightsPath = "weights.safetensors" };
        Assert.AreEqual((4e-4, 0.1), (fineTuning.EffectiveLearningRate, fineTuning.EffectiveWeightDecay));
        var lion = new CrateTrainerOptions { Optimizer = CrateOptimizerKind.Lion };
        Assert.AreEqual((2e-4, 0.05), (lion.EffectiveLearningRate, lion.EffectiveWeightDecay));
    }

    [TestMethod]
    public void TheTrainerIsAnMLNetTrainerEstimatorWithTrainerInfo()
    {
        var context = new MLContext(seed: 1);
        CrateTrainer trainer = context.MulticlassClassification.Trainers.Crate("Target", "Pixels");
        ITrainerEstimator<CrateClassifierTransformer, CrateModel> generic = trainer;
        // TrainerInfo shows only these two outside ML.NET.
        Assert.IsFalse(generic.Info.NeedNormalization, "the trainer normalises images itself");
        Assert.IsFalse(generic.Info.WantCaching, "it streams the images");

        // The names overload reads the columns it was given; a fitted classifier names its feature column.
        var definition = SchemaDefinition.Create(typeof(TinyImages.Row));
        definition[nameof(TinyImages.Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, TinyImages.Side, TinyImages.Side);
        definition[nameof(TinyImages.Row.Image)].ColumnName = "Pixels";
        definition[nameof(TinyImages.Row.Label)].ColumnName = "Words";
        IDataView data = context.Data.LoadFromEnumerable(TinyImages.Rows(8, seed: 3), definition);
        IDataView keyed = context.Transforms.Conversion.MapValueToKey("Target", "Words").Fit(data).Transform(data);
        SchemaShape shape = trainer.GetOutputSchema(MLNetInternals.ShapeOf(keyed.Schema));
        CollectionAssert.IsSubsetOf(new[] { "Pixels", "Target", "Score", "PredictedLabel" }, shape.Select(c => c.Name).ToArray());
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            context.MulticlassClassification.Trainers.Crate().GetOutputSchema(MLNetInternals.ShapeOf(keyed.Schema)));
        StringAssert.Contains(error.Message, "'Label'");
    }

    [TestMethod]
    public void CrossValidateOnAPipelineEndingInTheTrainerEqualsFittingEachFoldByHand()
    {
        const int folds = 3, seed = 7;
        var context = new MLContext(seed: 1);
        IDataView data = TinyImages.Load(context, TinyImages.Rows(24, seed: 4));
        CrateTrainerOptions options = TinyImages.Options(epochs: 1);
        IEstimator<ITransformer> pipeline = context.Transforms.Conversion.MapValueToKey("Label")
            .Append(context.MulticlassClassification.Trainers.Crate(options));

        var results = context.MulticlassClassification.CrossValidate(data, pipeline, numberOfFolds: folds, seed: seed);

        var split = context.Data.CrossValidationSplit(data, numberOfFolds: folds, seed: seed);
        Assert.HasCount(folds, results);
        for (int fold = 0; fold < folds; fold++)
        {
            using var model = (IDisposable)pipeline.Fit(split[fold].TrainSet);
            MulticlassClassificationMetrics byHand = context.MulticlassClassification.Evaluate(((ITransformer)model).Transform(split[fold].TestSet));
            MulticlassClassificationMetrics viaMLNet = results[fold].Metrics;
            Assert.AreEqual(byHand.ConfusionMatrix.NumberOfClasses, viaMLNet.ConfusionMatrix.NumberOfClasses, $"fold {fold}: classes");
            CollectionAssert.AreEqual(byHand.ConfusionMatrix.Counts.SelectMany(r => r).ToArray(), viaMLNet.ConfusionMatrix.Counts.SelectMany(r => r).ToArray(),
                $"fold {fold}: confusion matrix");
            Assert.AreEqual(byHand.MicroAccuracy, viaMLNet.MicroAccuracy, $"fold {fold}: micro accuracy");
            Assert.AreEqual(byHand.MacroAccuracy, viaMLNet.MacroAccuracy, $"fold {fold}: macro accuracy");
            Assert.IsTrue(double.IsFinite(viaMLNet.LogLoss), $"fold {fold}: log-loss {viaMLNet.LogLoss}");
            Assert.AreEqual(byHand.LogLoss, viaMLNet.LogLoss, $"fold {fold}: log-loss");
            (results[fold].Model as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void CancelExecutionStopsTrainingAtTheNextStep()
    {
        var context = new MLContext(seed: 1);
        IDataView train = TinyImages.Keyed(context, TinyImages.Rows(48, seed: 1));
        var steps = new List<long>();
        CrateTrainerOptions options = TinyImages.Options(epochs: 5);
        options.LogEverySteps = 1;
        options.Progress = progress =>
        {
            steps.Add(progress.Step);
            if (progress.Step == 2) MLNetInternals.CancelExecution(context);
        };
        Assert.ThrowsExactly<OperationCanceledException>(() => context.MulticlassClassification.Trainers.Crate(options).Fit(train));
        // 48 rows in batches of 8: six steps an epoch, each reported; the third step finds the context cancelled.
        CollectionAssert.AreEqual(new long[] { 1, 2 }, steps);
    }

    [TestMethod]
    public void TheTrainerRefusesImagesScaledTo255NamingTheColumnAndTheFix()
    {
        var context = new MLContext(seed: 1);
        TinyImages.Row[] rows = TinyImages.Rows(8, seed: 1);
        foreach (TinyImages.Row row in rows)
            for (int i = 0; i < row.Image.Length; i++) row.Image[i] *= 255;   // ExtractPixels' default scale
        var error = Assert.ThrowsExactly<InvalidDataException>(() =>
            context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1)).Fit(TinyImages.Keyed(context, rows)));
        StringAssert.Contains(error.Message, "Column 'Image'");
        StringAssert.Contains(error.Message, "scaleImage: 1f / 255");
    }
}
