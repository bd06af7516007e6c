using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Crate.Transforms.MLNet;

/// <summary>
/// The one place that reaches into ML.NET members it keeps internal to third parties. Each entry says what
/// it replaces; <c>MLNetInternalsTests</c> fails as soon as an ML.NET update moves any of them.
/// </summary>
internal static class MLNetInternals
{
    // SchemaShape.Column(string name, VectorKind vecKind, DataViewType itemType, bool isKey, SchemaShape annotations)
    // is internal, yet every estimator's GetOutputSchema must return new columns.
    private static readonly ConstructorInfo SchemaShapeColumnConstructor =
        typeof(SchemaShape.Column).GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, null,
            [typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape)], null)
        ?? throw Moved("the constructor of SchemaShape.Column");

    // SchemaShape.Create(DataViewSchema) is internal: the shape of a concrete schema, which estimators are checked against.
    private static readonly MethodInfo SchemaShapeCreate =
        typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.NonPublic, [typeof(DataViewSchema)])
        ?? throw Moved("SchemaShape.Create(DataViewSchema)");

    // Catalogs (mlContext.Transforms, mlContext.MulticlassClassification.Trainers) hold their MLContext in the
    // internal IInternalCatalog.Environment; extension methods on them need it to log through mlContext.Log.
    private static readonly PropertyInfo CatalogEnvironment =
        typeof(TransformsCatalog).GetInterfaces()
            .FirstOrDefault(i => i.FullName == "Microsoft.ML.Data.IInternalCatalog")
            ?.GetProperty("Environment")
        ?? throw Moved("IInternalCatalog.Environment");

    // Contracts.CheckAlive(IHostEnvironment) is internal: ML.NET's own components call it between batches, so that
    // MLContext.CancelExecution() stops them with OperationCanceledException. Called through a delegate, it throws
    // that exception itself rather than a TargetInvocationException around it.
    private static readonly Action<IHostEnvironment> ContractsCheckAlive =
        (typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.Contracts")
            ?.GetMethod("CheckAlive", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(IHostEnvironment)])
            ?? throw Moved("Contracts.CheckAlive(IHostEnvironment)"))
        .CreateDelegate<Action<IHostEnvironment>>();

    // MLContext.CancelExecution() is internal in Microsoft.ML 5 (Microsoft.ML.Experimental's extension method of the same
    // name calls it); the tests call it through here to cancel as a user of that package would.
    private static readonly Action<MLContext> MLContextCancelExecution =
        (typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes)
            ?? throw Moved("MLContext.CancelExecution()"))
        .CreateDelegate<Action<MLContext>>();

    // TrainerInfo's only constructor, TrainerInfo(normalization, calibration, caching, supportValid, supportIncrementalTrain,
    // supportTest), is internal, yet ITrainerEstimator.Info must return one.
    private static readonly ConstructorInfo TrainerInfoConstructor =
        typeof(TrainerInfo).GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, null,
            [typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool)], null)
        ?? throw Moved("TrainerInfo(bool normalization, bool calibration, bool caching, bool supportValid, bool supportIncrementalTrain, bool supportTest)");

    /// <summary>A trainer's description, as ML.NET's own trainers make it.</summary>
    public static TrainerInfo TrainerInfo(bool normalization, bool calibration, bool caching, bool supportsValidation,
        bool supportsIncrementalTraining, bool supportsTest) =>
        (TrainerInfo)TrainerInfoConstructor.Invoke([normalization, calibration, caching, supportsValidation, supportsIncrementalTraining, supportsTest]);

    /// <summary>Throws ML.NET's <see cref="OperationCanceledException"/> when <paramref name="host"/>'s MLContext was cancelled.
    /// A host from <see cref="IHostEnvironment.Register"/> sees the cancellation; the MLContext itself does not.</summary>
    public static void CheckAlive(IHost host) => ContractsCheckAlive(host);

    /// <summary>Cancels everything running in <paramref name="context"/>, as Microsoft.ML.Experimental's <c>CancelExecution</c> does.</summary>
    public static void CancelExecution(MLContext context) => MLContextCancelExecution(context);

    /// <summary>A schema-shape column, as ML.NET's own estimators make them.</summary>
    public static SchemaShape.Column Column(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey,
        SchemaShape? annotations = null) =>
        (SchemaShape.Column)SchemaShapeColumnConstructor.Invoke([name, kind, itemType, isKey, annotations ?? new SchemaShape([])]);

    /// <summary>The shape of a concrete schema, as ML.NET's estimator chains derive it.</summary>
    public static SchemaShape ShapeOf(DataViewSchema schema) => (SchemaShape)SchemaShapeCreate.Invoke(null, [schema])!;

    /// <summary>The environment (the MLContext) behind a catalog.</summary>
    public static IHostEnvironment EnvironmentOf(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (!CatalogEnvironment.DeclaringType!.IsInstanceOfType(catalog))
            throw new ArgumentException($"{catalog.GetType().FullName} is not an ML.NET catalog.", nameof(catalog));
        return (IHostEnvironment)CatalogEnvironment.GetValue(catalog)!;
    }

    private static MissingMemberException Moved(string member) =>
        new($"Crate.MLNet relies on {member} of Microsoft.ML {typeof(MLContext).Assembly.GetName().Version}, which this ML.NET no longer has. " +
            "Use the Microsoft.ML version this Crate.MLNet was built against.");
}
