using Crate.Testing;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// Issue 9, item 1: a read-out takes its network from a model file, an authors' checkpoint, a fitted model or a
/// live CrateModel, with column names as parameters. The oracle for every source is eq. (10) computed by
/// <see cref="CrateModel.Introspect"/> on a separately imported copy of the same weights.
/// </summary>
[TestClass]
public sealed class NetworkSourceTests
{
    private static readonly CrateAttentionOptions Options = new() { Normalization = FixtureImages.Identity, Device = ComputeDevice.Cpu };

    /// <summary>Every head's [CLS] map of layer 1 (the penultimate of 3) for the two fixture images, [2, 4·16].</summary>
    private static float[][] ExpectedMaps()
    {
        using CrateModel model = FixtureImages.Import();
        using var _ = no_grad();
        using Tensor inputs = FixtureImages.Inputs();
        using CrateIntrospection readout = model.Introspect(inputs, new IntrospectionRequest { Layers = [1] });
        return Enumerable.Range(0, 2).Select(i => readout.ForLayer(1).ClsAttention![i].flatten().data<float>().ToArray()).ToArray();
    }

    private static void AssertMaps(float[][] expected, IDataView output, string column, string what)
    {
        float[][] maps = output.GetColumn<float[]>(column).ToArray();
        Assert.HasCount(2, maps, what);
        for (int i = 0; i < 2; i++)
            // The same weights through the same code: only the order of float32 sums may differ between passes.
            NumericAssert.AreAllClose(expected[i], maps[i], new Tolerance(Absolute: 1e-6, Relative: 1e-4), $"{what}, image {i}");
    }

    [TestMethod]
    public void AModelFileGivesTheSameMapsAsTheLiveNetwork()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        string path = FixtureImages.SaveModelFile();
        try
        {
            using CrateAttentionTransformer fitted = context.Transforms.CrateAttention("Maps", "Image", path, Options).Fit(data);
            AssertMaps(ExpectedMaps(), fitted.Transform(data), "Maps", "model file");
            Assert.AreEqual(4, fitted.Architecture.Heads);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void AnAuthorsCheckpointGivesTheSameMaps()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        CrateNetworkSource source = CrateNetworkSource.FromCheckpoint(FixtureImages.CheckpointPath, FixtureImages.ImportOptions);
        Assert.AreEqual(48, source.Architecture.EmbeddingDim, "the architecture is read from the checkpoint's shapes");
        using CrateAttentionTransformer fitted = context.Transforms.CrateAttention("Maps", "Image", source, Options).Fit(data);
        AssertMaps(ExpectedMaps(), fitted.Transform(data), "Maps", "checkpoint");
    }

    [TestMethod]
    public void AFittedPipelineLendsItsNetworkAndKeepsItAliveForTheReadout()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        string path = FixtureImages.SaveModelFile();
        try
        {
            // A pipeline that owns a network it loaded from a file: its read-out is found inside the chain.
            TransformerChain<CrateSegmentTransformer> pipeline = context.Transforms.CopyColumns("Copy", "Image")
                .Append(context.Transforms.CrateSegment("Mask", "Image", path,
                    new CrateSegmentOptions { Normalization = FixtureImages.Identity, Device = ComputeDevice.Cpu })).Fit(data);
            CrateAttentionTransformer fitted = context.Transforms.CrateAttention("Maps", "Image", CrateNetworkSource.FromFittedModel(pipeline), Options).Fit(data);
            Assert.AreSame(pipeline.LastTransformer.Model, fitted.Model, "one network, shared, not copied");
            pipeline.Dispose();
            AssertMaps(ExpectedMaps(), fitted.Transform(data), "Maps", "after the pipeline that lent the network was disposed");
            Tensor weight = fitted.Model.parameters().First();
            fitted.Dispose();
            Assert.ThrowsExactly<ObjectDisposedException>(() => fitted.Model, "a disposed transformer has no network");
            Assert.IsTrue(weight.IsInvalid, "the last holder freed the network it loaded");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void AFittedModelWithoutANetworkOrWithTwoIsRefused()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        ITransformer plain = context.Transforms.CopyColumns("Copy", "Image").Fit(data);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => CrateNetworkSource.FromFittedModel(plain)).Message, "holds no CRATE network");
        using CrateModel first = FixtureImages.Import(), second = FixtureImages.Import();
        using var chain = context.Transforms.CrateAttention(first, Options).Append(context.Transforms.CrateAttention(second, Options with { OutputColumnName = "B" })).Fit(data);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => CrateNetworkSource.FromFittedModel(chain)).Message, "2 different CRATE networks");
    }

    [TestMethod]
    public void ColumnNamesAreParametersInImageAnalyticsOrder()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        IDataView renamed = context.Transforms.CopyColumns("Picture", "Image").Fit(data).Transform(data);
        using CrateModel model = FixtureImages.Import();
        using CrateAttentionTransformer fitted = context.Transforms.CrateAttention("Maps", "Picture", model, Options).Fit(renamed);
        Assert.AreEqual("Picture", fitted.Options.InputColumnName);
        AssertMaps(ExpectedMaps(), fitted.Transform(renamed), "Maps", "renamed columns");
        Assert.IsNull(fitted.Transform(renamed).Schema.GetColumnOrNull("Attention"), "the default name is replaced, not added");
    }

    [TestMethod]
    public void ALoadedPipelineOwnsItsSharedNetworkUntilItsLastUserIsDisposed()
    {
        var context = new MLContext(seed: 1);
        IDataView data = FixtureImages.Data(context);
        using CrateModel model = FixtureImages.Import();
        ITransformer pipeline = context.Transforms.CrateAttention(model, Options)
            .Append(context.Transforms.CrateSegment(model, new CrateSegmentOptions { Normalization = FixtureImages.Identity, Device = ComputeDevice.Cpu }))
            .Fit(data);
        string path = Path.Combine(Path.GetTempPath(), $"crate-sources-{Guid.NewGuid():N}.zip");
        try
        {
            CratePipelineFile.Save(context, pipeline, data.Schema, path);
            var loaded = (TransformerChain<ITransformer>)CratePipelineFile.Load(new MLContext(seed: 2), path, out _);
            var attention = (CrateAttentionTransformer)loaded.First();
            var segment = loaded.OfType<CrateSegmentTransformer>().Single();
            Assert.AreSame(attention.Model, segment.Model, "the file stores the network once and loads it once");
            Tensor weight = attention.Model.parameters().First();
            attention.Dispose();
            Assert.IsFalse(weight.IsInvalid, "the segment transformer still holds the network");
            Assert.HasCount(2, segment.Transform(data).GetColumn<bool[]>("PredictedMask").ToArray());
            loaded.Dispose();
            Assert.IsTrue(weight.IsInvalid, "disposing the loaded chain freed the network");
            Assert.IsFalse(model.parameters().First().IsInvalid, "the caller's network is never freed by a read-out");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
