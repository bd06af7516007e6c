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
}
