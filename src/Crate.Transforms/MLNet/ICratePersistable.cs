using Microsoft.ML;

namespace Crate.Transforms.MLNet;

/// <summary>
/// A Crate.MLNet transformer that <see cref="CratePipelineFile"/> can save and load. The implementing type must
/// also have <c>public static ITransformer LoadFrom(MLContext context, CratePipelineReader reader)</c>; only types
/// that implement this interface are ever instantiated by a load.
/// </summary>
public interface ICratePersistable
{
    /// <summary>Writes the transformer's options and networks.</summary>
    void SaveTo(CratePipelineWriter writer);

    /// <summary>Reads back what <see cref="SaveTo"/> wrote.</summary>
    static abstract ITransformer LoadFrom(MLContext context, CratePipelineReader reader);
}
