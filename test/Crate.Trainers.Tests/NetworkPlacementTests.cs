using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Trainers.Tests;

/// <summary>
/// One placed copy per (network, device, precision), shared by the transforms of a pipeline and freed with the last
/// of them. On the CPU a precision other than the network's own stands for another device: the placement rule is the
/// same (<see cref="NetworkLease.Place"/>). Oracles: object identity of the networks the transforms run, the count
/// of placed copies alive, whether a copy's parameters are freed, and the read-outs' results before and after a
/// sharer is disposed (bit for bit).
/// </summary>
[TestClass]
public sealed class NetworkPlacementTests
{
    private static CrateAttentionOptions Attention(CrateClassifierTransformer classifier, ComputePrecision precision) => new()
    {
        Normalization = classifier.Settings.Normalization, Device = ComputeDevice.Cpu, Precision = precision,
    };

    private static CrateMaskCutOptions MaskCut(CrateClassifierTransformer classifier, ComputePrecision precision) => new()
    {
        Normalization = classifier.Settings.Normalization, Device = ComputeDevice.Cpu, Precision = precision,
        ImageHeight = TinyImages.Side, ImageWidth = TinyImages.Side,
    };

    [TestMethod]
    public void TransformsOfOneNetworkShareOneCopyPerDeviceAndPrecisionUntilTheLastIsDisposed()
    {
        var context = new MLContext(seed: 1);
        IDataView data = TinyImages.Keyed(context, TinyImages.Rows(8, seed: 1));
        using CrateClassifierTransformer classifier = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1)).Fit(data);
        CrateNetworkSource source = CrateNetworkSource.FromFittedModel(classifier);
        int before = NetworkLease.PlacedCopies;

        CrateAttentionTransformer attention = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.Float64)).Fit(data);
        CrateMaskCutTransformer maskCut = context.Transforms.CrateMaskCut(source, MaskCut(classifier, ComputePrecision.Float64)).Fit(data);
        using CrateAttentionTransformer own = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.Float32)).Fit(data);
        CrateAttentionTransformer bfloat16 = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.BFloat16)).Fit(data);
        CrateModel float64Copy = attention.Model;
        TorchSharp.Modules.Parameter copyWeight = float64Copy.parameters().First();

        Assert.AreSame(float64Copy, maskCut.Model, "the attention map and MaskCut run one float64 copy");
        Assert.AreNotSame(classifier.Model, float64Copy, "premise: float64 is not the network's own precision");
        Assert.AreSame(classifier.Model, own.Model, "the network's own device and precision: the network itself, no copy");
        Assert.AreNotSame(float64Copy, bfloat16.Model, "another precision, another copy");
        Assert.AreEqual(before + 2, NetworkLease.PlacedCopies, "two copies: float64 and bfloat16");

        float[][] masksBefore = maskCut.Transform(data).GetColumn<float[]>("MaskCutScores").ToArray();
        attention.Dispose();
        Assert.IsFalse(copyWeight.IsInvalid, "the copy lives while MaskCut holds it");
        Assert.AreEqual(before + 2, NetworkLease.PlacedCopies);
        float[][] masksAfter = maskCut.Transform(data).GetColumn<float[]>("MaskCutScores").ToArray();
        CollectionAssert.AreEqual(masksBefore.SelectMany(m => m).ToArray(), masksAfter.SelectMany(m => m).ToArray(), "MaskCut unchanged by its sharer's disposal");

        maskCut.Dispose();
        Assert.IsTrue(copyWeight.IsInvalid, "the last holder frees the copy");
        Assert.AreEqual(before + 1, NetworkLease.PlacedCopies);
        bfloat16.Dispose();
        Assert.AreEqual(before, NetworkLease.PlacedCopies);
        Assert.IsFalse(classifier.Model.parameters().First().IsInvalid, "the classifier's network stays");

        // A new placement after the last holder went makes a fresh copy.
        using CrateAttentionTransformer again = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.Float64)).Fit(data);
        Assert.AreNotSame(float64Copy, again.Model);
        Assert.AreEqual(before + 1, NetworkLease.PlacedCopies);

        if (TorchSharp.torch.cuda.is_available())
        {
            // The case the rule is for: a classifier trained on the CPU, and two read-outs on the GPU.
            using var onGpu = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.Float32) with { Device = ComputeDevice.Cuda }).Fit(data);
            using var maskCutOnGpu = context.Transforms.CrateMaskCut(source, MaskCut(classifier, ComputePrecision.Float32) with { Device = ComputeDevice.Cuda }).Fit(data);
            Assert.AreSame(onGpu.Model, maskCutOnGpu.Model, "one copy on the GPU");
            Assert.AreEqual(TorchSharp.DeviceType.CUDA, onGpu.Model.Device.type);
        }
    }

    [TestMethod]
    public void ALoadedPipelineRunsOneCopyForAllItsTransforms()
    {
        var context = new MLContext(seed: 1);
        IDataView data = TinyImages.Keyed(context, TinyImages.Rows(8, seed: 1));
        string path = Path.Combine(Path.GetTempPath(), $"crate-placement-{Guid.NewGuid():N}.zip");
        try
        {
            using (CrateClassifierTransformer classifier = context.MulticlassClassification.Trainers.Crate(TinyImages.Options(epochs: 1)).Fit(data))
            {
                CrateNetworkSource source = CrateNetworkSource.FromFittedModel(classifier);
                using var attention = context.Transforms.CrateAttention(source, Attention(classifier, ComputePrecision.Float64)).Fit(data);
                using var maskCut = context.Transforms.CrateMaskCut(source, MaskCut(classifier, ComputePrecision.Float64)).Fit(data);
                var chain = new TransformerChain<ITransformer>(classifier, attention, maskCut);
                CratePipelineFile.Save(context, chain, data.Schema, path);
            }
            int before = NetworkLease.PlacedCopies;
            var loaded = (TransformerChain<ITransformer>)CratePipelineFile.Load(new MLContext(seed: 2), path, out _);
            ITransformer[] parts = loaded.ToArray();
            var classifierLoaded = (CrateClassifierTransformer)parts[0];
            var attentionLoaded = (CrateAttentionTransformer)parts[1];
            var maskCutLoaded = (CrateMaskCutTransformer)parts[2];
            Assert.AreSame(attentionLoaded.Model, maskCutLoaded.Model, "the loaded read-outs share one float64 copy");
            Assert.AreNotSame(classifierLoaded.Model, attentionLoaded.Model);
            Assert.AreEqual(before + 1, NetworkLease.PlacedCopies);
            loaded.Dispose();
            Assert.AreEqual(before, NetworkLease.PlacedCopies, "disposing the pipeline frees the copy");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
