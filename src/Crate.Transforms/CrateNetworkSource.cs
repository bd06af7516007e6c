using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;

namespace Crate.Transforms;

/// <summary>
/// Where a read-out's network comes from: a live <see cref="CrateModel"/> (which converts implicitly), a
/// Crate.MLNet model file, an authors' PyTorch checkpoint, or a fitted model (a <c>CrateClassifierTransformer</c>,
/// a read-out, or a pipeline that contains one). A read-out never changes the network it is given; networks
/// loaded from files belong to the transformer fitted from them, which frees them when it is disposed.
/// </summary>
public sealed class CrateNetworkSource
{
    private readonly Func<NetworkLease> open;
    private readonly Lazy<CrateArchitecture> architecture;
    private readonly string description;

    private CrateNetworkSource(Func<NetworkLease> open, Func<CrateArchitecture> architecture, string description)
    {
        this.open = open;
        this.architecture = new Lazy<CrateArchitecture>(architecture);
        this.description = description;
    }

    /// <summary>The network's architecture (read from the file's header, or the checkpoint's shapes, without building it).</summary>
    public CrateArchitecture Architecture => architecture.Value;

    /// <summary>A live network; it stays the caller's and is never moved, cast or switched to another mode.</summary>
    public static CrateNetworkSource FromModel(CrateModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new CrateNetworkSource(() => NetworkLease.Borrow(model), () => model.Architecture, "a CrateModel");
    }

    /// <summary>A Crate.MLNet model file (<see cref="CrateModelFile"/>); each fitted transformer loads its own copy.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a Crate.MLNet model file.</exception>
    public static CrateNetworkSource FromModelFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CrateArchitecture header = CrateModelFile.ReadArchitecture(path);
        return new CrateNetworkSource(() => NetworkLease.Own(CrateModelFile.Load(path)), () => header, $"model file '{path}'");
    }

    /// <summary>An authors' PyTorch checkpoint, imported with <paramref name="options"/> (see <see cref="CrateCheckpointImporter"/>).</summary>
    public static CrateNetworkSource FromCheckpoint(string path, CheckpointImportOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint at '{path}'.", path);
        return new CrateNetworkSource(() => NetworkLease.Own(CrateCheckpointImporter.Import(path, options)),
            () => CrateCheckpointImporter.ReadArchitecture(path, options), $"checkpoint '{path}'");
    }

    /// <summary>
    /// Any network file, its format told from its content (<see cref="CrateNetworkFile"/>): a model file (as
    /// <see cref="FromModelFile"/>), the network of a saved pipeline (read without the rest of the pipeline; each fitted
    /// transformer loads its own copy), or an authors' checkpoint imported with <paramref name="checkpointOptions"/>
    /// (as <see cref="FromCheckpoint"/>).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="checkpointOptions">How to import a PyTorch checkpoint (its head count at least); not used for the other formats.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">Not a network file, or an unreadable one.</exception>
    /// <exception cref="ArgumentException">A checkpoint without the import options it needs.</exception>
    public static CrateNetworkSource FromFile(string path, CheckpointImportOptions? checkpointOptions = null)
    {
        CrateNetworkFileFormat format = CrateNetworkFile.DetectFormat(path);
        if (format == CrateNetworkFileFormat.ModelFile) return FromModelFile(path);
        if (format == CrateNetworkFileFormat.TorchCheckpoint)
            return FromCheckpoint(path, CrateNetworkFile.RequireOptions(path, checkpointOptions));
        CrateArchitecture header = CratePipelineFile.ReadNetworkArchitecture(path);
        return new CrateNetworkSource(() => NetworkLease.Own(CratePipelineFile.LoadNetwork(path)), () => header, $"the network of pipeline file '{path}'");
    }

    /// <summary>
    /// The network of a fitted model: a <c>CrateClassifierTransformer</c> or read-out, or a pipeline (ML.NET's
    /// <c>TransformerChain</c>, nested or not, fitted or loaded by <see cref="CratePipelineFile"/>) that holds exactly
    /// one network. The read-out shares it and keeps it alive: it stays usable after the fitted model is disposed.
    /// </summary>
    /// <exception cref="ArgumentException">The model holds no CRATE network, or several different ones.</exception>
    public static CrateNetworkSource FromFittedModel(ITransformer fittedModel)
    {
        ArgumentNullException.ThrowIfNull(fittedModel);
        INetworkOwner[] owners = PipelineTransformers.Flatten(fittedModel).OfType<INetworkOwner>().ToArray();
        NetworkLease[] networks = owners.Select(o => o.Network).DistinctBy(n => n.Model, ReferenceEqualityComparer.Instance).ToArray();
        if (networks.Length != 1)
            throw new ArgumentException(
                networks.Length == 0
                    ? $"The fitted model ({fittedModel.GetType().Name}) holds no CRATE network: expected a CrateClassifierTransformer, a Crate read-out, or a pipeline containing one."
                    : $"The fitted model holds {networks.Length} different CRATE networks (in {string.Join(", ", owners.Select(o => o.GetType().Name))}); " +
                      "pass the transformer whose network you mean.",
                nameof(fittedModel));
        NetworkLease network = networks[0];
        CrateArchitecture found = network.Model.Architecture;
        return new CrateNetworkSource(network.Share, () => found, $"the network of {owners[0].GetType().Name}");
    }

    /// <summary>A live network (see <see cref="FromModel"/>).</summary>
    public static implicit operator CrateNetworkSource(CrateModel model) => FromModel(model);

    /// <summary>A lease on the network for one fitted transformer: a fresh load for files, a shared reference otherwise.
    /// The caller disposes it once the transformer holds its own.</summary>
    internal NetworkLease Open() => open();

    /// <inheritdoc />
    public override string ToString() => description;
}
