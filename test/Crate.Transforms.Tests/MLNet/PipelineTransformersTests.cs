using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.MLNet;

[TestClass]
public sealed class PipelineTransformersTests
{
    private sealed class Row
    {
        public float A { get; set; }
    }

    [TestMethod]
    public void NestedChainsOpenInTheOrderTheTransformersRun()
    {
        var context = new MLContext(seed: 0);
        IDataView data = context.Data.LoadFromEnumerable(new[] { new Row { A = 1 } });
        ITransformer[] parts = new[] { "B", "C", "D", "E" }.Select(name => (ITransformer)context.Transforms.CopyColumns(name, "A").Fit(data)).ToArray();
        // Built by hand: ((B, (C, D)), E), so the expected order is known without the code under test.
        var inner = new TransformerChain<ITransformer>(parts[1], parts[2]);
        var middle = new TransformerChain<ITransformer>(parts[0], inner);
        var outer = new TransformerChain<ITransformer>(middle, parts[3]);

        CollectionAssert.AreEqual(parts, PipelineTransformers.Flatten(outer).ToArray());
        CollectionAssert.AreEqual(new[] { parts[2] }, PipelineTransformers.Flatten(parts[2]).ToArray(), "A transformer that is not a chain is its own only part.");
        Assert.IsEmpty(PipelineTransformers.Flatten(new TransformerChain<ITransformer>()).ToArray());
    }
}
