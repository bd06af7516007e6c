using Crate.Transforms.Network;
using Crate.Testing;
using Crate.Transforms.Tests.Checkpoints;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// Issue 9, item 4: the [CLS] rows come without the (N+1)×(N+1) matrix, and Introspect runs large batches in
/// micro-batches. Oracles: row 0 of the full attention matrix restricted and renormalised by hand (eq. 10), the
/// PyTorch fixture's [CLS] attention, and one-image passes.
/// </summary>
[TestClass]
public sealed class BoundedIntrospectionTests
{
    /// <summary>Probabilities from softmaxes of float32 sums of a few hundred products, computed in different orders.</summary>
    private static readonly Tolerance MapTolerance = new(Absolute: 1e-6, Relative: 1e-4);

    /// <summary>Tokens, features and logits: float32 sums of a few hundred products through three layers.</summary>
    private static readonly Tolerance TokenTolerance = new(Absolute: 1e-5, Relative: 1e-4);

    [TestMethod]
    public void ClsRowsWithoutTheMatrixAreRowZeroOfTheMatrix()
    {
        using CrateModel model = FixtureImages.Import();
        using Tensor inputs = FixtureImages.Inputs();
        using var _ = no_grad();
        using CrateIntrospection rowsOnly = model.Introspect(inputs, new IntrospectionRequest { ClsAttention = true, Attention = false });
        using CrateIntrospection full = model.Introspect(inputs, IntrospectionRequest.Everything);
        using Tensor fixture = ReferenceFixtures.Array("crate_square", "cls_attention"); // [layers, B, K, N] from PyTorch
        for (int layer = 0; layer < 3; layer++)
        {
            Assert.IsNull(rowsOnly.ForLayer(layer).Attention, "no matrix unless asked for");
            // By hand: row 0 of softmax(w wᵀ·scale), patch columns only, renormalised.
            Tensor matrix = full.ForLayer(layer).Attention!;
            Tensor row = matrix.select(2, 0).narrow(-1, 1, 16);
            Tensor byHand = row / row.sum(-1, keepdim: true);
            // Layers after the first see inputs that went through the fused or the explicit attention, and PyTorch sums
            // in another order: float32 rounding of sums of a few hundred products, relative 1e-4 of each probability
            // plus 1e-6 absolute for the smallest ones.
            NumericAssert.AreClose(byHand, rowsOnly.ForLayer(layer).ClsAttention!, MapTolerance, $"layer {layer}: [CLS] rows against the matrix");
            NumericAssert.AreClose(fixture[layer], rowsOnly.ForLayer(layer).ClsAttention!, MapTolerance, $"layer {layer}: against PyTorch");
        }
        NumericAssert.AreClose(full.Logits, rowsOnly.Logits, TokenTolerance, "logits of the fused and the explicit pass");
    }

    [TestMethod]
    public void LargeBatchesGoThroughInMicroBatchesWithTheSameResults()
    {
        // 184×184 images make a 23×23 grid: each image's four (N+1)² attention matrices take 4.5 MB, so with the full
        // matrix asked for the CPU budget (8 MiB) takes one image per pass.
        using CrateModel model = FixtureImages.Import();
        using var _ = no_grad();
        using var generator = new TorchSharp.torch.Generator(3);
        using Tensor images = rand([3, 3, 184, 184], generator: generator);
        using CrateIntrospection batched = model.Introspect(images, IntrospectionRequest.Everything);
        for (int i = 0; i < 3; i++)
        {
            using CrateIntrospection alone = model.Introspect(images.narrow(0, i, 1), IntrospectionRequest.Everything);
            NumericAssert.AreClose(alone.Logits[0], batched.Logits[i], TokenTolerance, $"image {i}: logits");
            foreach (LayerIntrospection layer in alone.Layers)
            {
                LayerIntrospection inBatch = batched.ForLayer(layer.Layer);
                NumericAssert.AreClose(layer.Attention![0], inBatch.Attention![i], MapTolerance, $"image {i} layer {layer.Layer}: attention");
                NumericAssert.AreClose(layer.ClsAttention![0], inBatch.ClsAttention![i], MapTolerance, $"image {i} layer {layer.Layer}: [CLS] rows");
                NumericAssert.AreClose(layer.HeadFeatures![0], inBatch.HeadFeatures![i], TokenTolerance, $"image {i} layer {layer.Layer}: head features");
                NumericAssert.AreClose(layer.Output![0], inBatch.Output![i], TokenTolerance, $"image {i} layer {layer.Layer}: output");
                // An ISTA input at the threshold may round either way: a few of the image's 530·d outputs.
                NumericAssert.AreClose(layer.IstaZeroFraction![0], inBatch.IstaZeroFraction![i], new Tolerance(1e-3), $"image {i} layer {layer.Layer}: sparsity");
            }
        }
        CollectionAssert.AreEqual(new long[] { 3, 4, 530, 530 }, batched.ForLayer(0).Attention!.shape);
    }
}
