using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// The estimator of a read-out transform. <see cref="GetOutputSchema"/> reports exactly the columns the fitted
/// transformer adds (it asks the same code that builds them); <see cref="Fit"/> builds the transformer, from the
/// data when the transform learns something (PCA, head calibration) or without reading it otherwise.
/// </summary>
public sealed class CrateReadoutEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : class, ITransformer
{
    private readonly string inputColumnName;
    private readonly Action<DataViewSchema.Builder> addOutputColumns;
    private readonly Func<IDataView, TTransformer> fit;

    internal CrateReadoutEstimator(string inputColumnName, Action<DataViewSchema.Builder> addOutputColumns, Func<IDataView, TTransformer> fit)
    {
        this.inputColumnName = inputColumnName;
        this.addOutputColumns = addOutputColumns;
        this.fit = fit;
    }

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return fit(input);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaShape.Column image = inputSchema.FirstOrDefault(c => c.Name == inputColumnName);
        if (image.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), inputColumnName, $"The input has no column '{inputColumnName}'.");
        bool isImage = image.ItemType is ImageDataViewType && image.Kind == SchemaShape.Column.VectorKind.Scalar;
        bool isVector = image.ItemType is NumberDataViewType number && number.RawType == typeof(float) && image.Kind == SchemaShape.Column.VectorKind.Vector;
        if (!isImage && !isVector)
            throw new ArgumentException(
                $"Column '{inputColumnName}' is {image.ItemType} ({image.Kind}); expected an image (MLImage) or a float vector shaped [3, H, W].",
                nameof(inputSchema));
        var builder = new DataViewSchema.Builder();
        addOutputColumns(builder);
        SchemaShape added = MLNetInternals.ShapeOf(builder.ToSchema());
        var names = new HashSet<string>(added.Select(c => c.Name));
        return new SchemaShape(inputSchema.Where(c => !names.Contains(c.Name)).Concat(added));
    }
}
