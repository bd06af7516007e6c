using Crate.Transforms.MLNet;
using Microsoft.ML;

namespace Crate.Trainers;

/// <summary>Crate.MLNet's entry points on ML.NET's catalogs.</summary>
public static class CrateCatalog
{
    /// <summary>
    /// Trains a CRATE classifier on an image column and a key-typed label:
    /// <c>mlContext.MulticlassClassification.Trainers.Crate(new CrateTrainerOptions { ... })</c>.
    /// </summary>
    public static CrateTrainer Crate(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, CrateTrainerOptions options) =>
        new(MLNetInternals.EnvironmentOf(catalog), options);

    /// <summary>
    /// Trains a CRATE classifier with the default <see cref="CrateTrainerOptions"/> on the columns named, as ML.NET's
    /// trainers take them: <c>mlContext.MulticlassClassification.Trainers.Crate("Label", "Image")</c>. The label must be a
    /// key; the features are the image column (an MLImage, or a float vector [3, H, W] in [0, 1]).
    /// </summary>
    /// <param name="catalog">mlContext.MulticlassClassification.Trainers.</param>
    /// <param name="labelColumnName">The key-typed label column. Default "Label".</param>
    /// <param name="featureColumnName">The image column. Default "Image".</param>
    public static CrateTrainer Crate(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Image")
    {
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        ArgumentException.ThrowIfNullOrEmpty(featureColumnName);
        return catalog.Crate(new CrateTrainerOptions { LabelColumnName = labelColumnName, ImageColumnName = featureColumnName });
    }
}
