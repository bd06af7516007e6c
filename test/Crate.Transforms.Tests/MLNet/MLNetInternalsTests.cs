using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.MLNet;

/// <summary>Fails as soon as an ML.NET update moves a member MLNetInternals reaches into.</summary>
[TestClass]
public sealed class MLNetInternalsTests
{
    [TestMethod]
    public void SchemaShapeColumnsAreBuiltAsMLNetBuildsThem()
    {
        SchemaShape.Column column = MLNetInternals.Column("Score", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false);
        Assert.AreEqual("Score", column.Name);
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, column.Kind);
        Assert.AreEqual(NumberDataViewType.Single, column.ItemType);
        Assert.IsFalse(column.IsKey);
        // The same column as ML.NET derives it from a schema.
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Score", new VectorDataViewType(NumberDataViewType.Single, 3));
        SchemaShape.Column derived = MLNetInternals.ShapeOf(builder.ToSchema()).Single();
        Assert.AreEqual(derived.Kind, column.Kind);
        Assert.AreEqual(derived.ItemType, column.ItemType);
    }

    [TestMethod]
    public void CatalogsYieldTheEnvironmentThatLogsToTheirMLContext()
    {
        var context = new MLContext(seed: 1);
        var messages = new List<string>();
        context.Log += (_, e) => messages.Add(e.Message);
        Microsoft.ML.Runtime.IHostEnvironment environment = MLNetInternals.EnvironmentOf(context.MulticlassClassification.Trainers);
        Assert.AreSame(environment, MLNetInternals.EnvironmentOf(context.Transforms));
        // The dataset readers log through mlContext.Data, the segmentation evaluators through mlContext.MulticlassClassification.
        Assert.AreSame(environment, MLNetInternals.EnvironmentOf(context.Data));
        Assert.AreSame(environment, MLNetInternals.EnvironmentOf(context.MulticlassClassification));
        using (Microsoft.ML.Runtime.IChannel channel = environment.Register("CrateTest").Start("check"))
            channel.Info(Microsoft.ML.Runtime.MessageSensitivity.None, "hello from the catalog's environment");
        Assert.IsTrue(messages.Any(m => m.Contains("hello from the catalog's environment")), string.Join("\n", messages));
        Assert.ThrowsExactly<ArgumentException>(() => MLNetInternals.EnvironmentOf("not a catalog"));
    }

    [TestMethod]
    public void TrainerInfoIsBuiltWithTheFlagsGiven()
    {
        TrainerInfo info = MLNetInternals.TrainerInfo(normalization: true, calibration: false, caching: false, supportsValidation: false,
            supportsIncrementalTraining: false, supportsTest: false);
        Assert.IsTrue(info.NeedNormalization);
        Assert.IsFalse(info.WantCaching);
        Assert.IsFalse(MLNetInternals.TrainerInfo(false, false, true, false, false, false).NeedNormalization);
        Assert.IsTrue(MLNetInternals.TrainerInfo(false, false, true, false, false, false).WantCaching);
    }

    [TestMethod]
    public void CancelExecutionMakesCheckAliveThrowMLNetsExceptionOnTheContextsHosts()
    {
        var context = new MLContext(seed: 1);
        Microsoft.ML.Runtime.IHost before = ((Microsoft.ML.Runtime.IHostEnvironment)context).Register("before");
        MLNetInternals.CheckAlive(before);
        MLNetInternals.CancelExecution(context);
        Assert.ThrowsExactly<OperationCanceledException>(() => MLNetInternals.CheckAlive(before));
        Microsoft.ML.Runtime.IHost after = MLNetInternals.EnvironmentOf(context.Transforms).Register("after");
        Assert.ThrowsExactly<OperationCanceledException>(() => MLNetInternals.CheckAlive(after));
        MLNetInternals.CheckAlive(((Microsoft.ML.Runtime.IHostEnvironment)new MLContext(seed: 1)).Register("another context"));
    }
}
