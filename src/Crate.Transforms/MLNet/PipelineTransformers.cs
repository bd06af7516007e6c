using Microsoft.ML;

namespace Crate.Transforms.MLNet;

/// <summary>The transformers a fitted pipeline is made of.</summary>
public static class PipelineTransformers
{
    /// <summary>
    /// The transformers of <paramref name="model"/> in the order they run, nested chains opened (a pipeline from
    /// <c>Fit</c> or from <see cref="CratePipelineFile.Load"/> nests a <c>TransformerChain</c> per <c>Append</c>):
    /// <c>PipelineTransformers.Flatten(model).OfType&lt;CrateClassifierTransformer&gt;()</c> finds the classifier at any
    /// depth. A transformer that is not a chain is its own only element.
    /// </summary>
    public static IEnumerable<ITransformer> Flatten(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [model];
    }
}
