using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Transforms.MLNet;

/// <summary>
/// Saves and loads a fitted pipeline that mixes ML.NET's transformers with Crate.MLNet's, as one file.
/// <c>mlContext.Model.Save</c> cannot do it: ML.NET keeps <c>ModelSaveContext</c> to itself. The file is a zip:
/// runs of consecutive ML.NET transformers are saved by ML.NET itself as nested model files, each of ours
/// writes its own entries, networks are stored once as safetensors, and a manifest records the format and the
/// versions of Crate.MLNet, ML.NET and TorchSharp that wrote it.
/// </summary>
public static class CratePipelineFile
{
    /// <summary>The format this version writes; newer files are refused.</summary>
    public const int FormatVersion = 1;

    private const string FormatName = "crate-mlnet-pipeline";
    private const string ManifestEntry = "manifest.json";
    private const string InputSchemaEntry = "input-schema.mlnet.zip";

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
    };

    /// <summary>Writes <paramref name="model"/>, fed by rows of <paramref name="inputSchema"/>, to <paramref name="path"/>.</summary>
    public static void Save(MLContext context, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        // Written beside the target and renamed at the end, so a failure never leaves a half-written file.
        string temporary = fullPath + $".{Guid.NewGuid():N}.tmp";
        try
        {
            using (var archive = new ZipArchive(File.Create(temporary), ZipArchiveMode.Create))
            {
                var manifest = new Manifest
                {
                    Format = FormatName,
                    FormatVersion = FormatVersion,
                    CrateMLNetVersion = VersionOf(typeof(CratePipelineFile).Assembly),
                    MLNetVersion = VersionOf(typeof(MLContext).Assembly),
                    TorchSharpVersion = VersionOf(typeof(TorchSharp.torch).Assembly),
                };
                SaveMLNet(context, archive, InputSchemaEntry, [], inputSchema);
                var networks = new Dictionary<CrateModel, string>(ReferenceEqualityComparer.Instance);
                DataViewSchema schema = inputSchema;
                var pending = new List<ITransformer>();
                void FlushMLNet()
                {
                    if (pending.Count == 0) return;
                    string entry = $"parts/{manifest.Parts.Count}.mlnet.zip";
                    schema = SaveMLNet(context, archive, entry, pending, schema);
                    manifest.Parts.Add(new Part { Kind = PartKind.MLNet, Entry = entry });
                    pending.Clear();
                }
                foreach (ITransformer transformer in PipelineTransformers.Flatten(model))
                {
                    if (transformer is not ICratePersistable ours)
                    {
                        pending.Add(transformer);
                        continue;
                    }
                    FlushMLNet();
                    string prefix = $"parts/{manifest.Parts.Count}/";
                    ours.SaveTo(new CratePipelineWriter(archive, prefix, networks));
                    manifest.Parts.Add(new Part { Kind = PartKind.Crate, Entry = prefix, Type = transformer.GetType().AssemblyQualifiedName });
                    schema = transformer.GetOutputSchema(schema);
                }
                FlushMLNet();
                using Stream manifestStream = archive.CreateEntry(ManifestEntry).Open();
                JsonSerializer.Serialize(manifestStream, manifest, JsonOptions);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Reads a pipeline written by <see cref="Save"/>; <paramref name="inputSchema"/> is the schema it was saved with.
    /// The returned chain owns the networks it loaded: dispose it (ML.NET's <c>TransformerChain</c> is
    /// <see cref="IDisposable"/> and disposes its transformers) to free them.
    /// </summary>
    public static ITransformer Load(MLContext context, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using (ZipArchive archive = OpenArchive(path))
        {
            Manifest manifest = ReadManifest(archive, path);
            inputSchema = LoadMLNet(context, archive, InputSchemaEntry, path).InputSchema;
            var transformers = new List<ITransformer>();
            var networks = new Dictionary<string, NetworkLease>();
            try
            {
                foreach (Part part in manifest.Parts)
                {
                    if (part.Kind == PartKind.MLNet)
                    {
                        transformers.AddRange(PipelineTransformers.Flatten(LoadMLNet(context, archive, part.Entry, path).Model));
                        continue;
                    }
                    transformers.Add(LoadCratePart(context, new CratePipelineReader(archive, part.Entry, networks, path), part, path));
                }
            }
            catch
            {
                foreach (IDisposable loaded in transformers.OfType<IDisposable>()) loaded.Dispose();
                throw;
            }
            finally
            {
                // The transformers hold leases of their own; the reader's go, so a network lives as long as its users.
                foreach (NetworkLease network in networks.Values) network.Dispose();
            }
            return new TransformerChain<ITransformer>([.. transformers]);
        }
    }

    /// <summary>
    /// The network of the pipeline file at <paramref name="path"/>, on the CPU, read without the rest of the pipeline
    /// (no transformer is instantiated): what a read-out or a fine-tuning takes from a saved classifier.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a pipeline file, or one holding no network or several.</exception>
    internal static CrateModel LoadNetwork(string path)
    {
        using ZipArchive archive = OpenArchive(path);
        ZipArchiveEntry entry = SingleNetwork(archive, path);
        string temporary = Path.Combine(Path.GetTempPath(), $"crate-network-{Guid.NewGuid():N}.safetensors");
        try
        {
            entry.ExtractToFile(temporary);
            return CrateModelFile.Load(temporary);
        }
        catch (CheckpointFormatException e)
        {
            throw new CheckpointFormatException($"'{path}': its network '{entry.FullName}' is unreadable: {e.Message}", e);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The architecture of the network of the pipeline file at <paramref name="path"/>, from its header only.</summary>
    /// <exception cref="InvalidDataException">Not a pipeline file, or one holding no network or several.</exception>
    internal static CrateArchitecture ReadNetworkArchitecture(string path)
    {
        using ZipArchive archive = OpenArchive(path);
        ZipArchiveEntry entry = SingleNetwork(archive, path);
        string name = $"{path}: {entry.FullName}";
        using Stream stream = entry.Open();
        return CrateModelFile.ArchitectureOf(SafeTensorsFile.ReadMetadata(stream, entry.Length, name), name);
    }

    private static ZipArchive OpenArchive(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No pipeline file at '{path}'.", path);
        try
        {
            return ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a Crate.MLNet pipeline file (not a zip archive): {e.Message}", e);
        }
    }

    private static ZipArchiveEntry SingleNetwork(ZipArchive archive, string path)
    {
        ReadManifest(archive, path);
        ZipArchiveEntry[] networks = archive.Entries
            .Where(e => e.FullName.StartsWith(CratePipelineWriter.NetworksFolder, StringComparison.Ordinal)).ToArray();
        return networks.Length == 1 ? networks[0]
            : throw new InvalidDataException(networks.Length == 0
                ? $"'{path}' is a pipeline without a CRATE network."
                : $"'{path}' holds {networks.Length} different CRATE networks; load the pipeline (CratePipelineFile.Load) and pass the transformer whose network you mean.");
    }

    private static ITransformer LoadCratePart(MLContext context, CratePipelineReader reader, Part part, string path)
    {
        // Only Crate.MLNet's own persistable types are ever instantiated: the name comes from the file.
        Type? type;
        try
        {
            type = part.Type is null ? null : Type.GetType(part.Type, throwOnError: false);
        }
        catch (Exception e) when (e is ArgumentException or FileLoadException or BadImageFormatException or TypeLoadException)
        {
            // throwOnError: false covers a name that is not found, not one that cannot be parsed or loaded.
            type = null;
        }
        if (type is null || !typeof(ICratePersistable).IsAssignableFrom(type))
            throw new InvalidDataException($"{path}: part '{part.Entry}' names type '{part.Type}', which is not a loadable Crate.MLNet transformer.");
        MethodInfo load = type.GetMethod(nameof(ICratePersistable.LoadFrom), BindingFlags.Public | BindingFlags.Static,
            [typeof(MLContext), typeof(CratePipelineReader)])
            ?? throw new InvalidDataException($"{path}: {type.Name} has no public static LoadFrom(MLContext, CratePipelineReader).");
        try
        {
            var loaded = (ITransformer)load.Invoke(null, [context, reader])!;
            (loaded as INetworkOwner)?.AttachTo(context);
            return loaded;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private static Manifest ReadManifest(ZipArchive archive, string path)
    {
        ZipArchiveEntry entry = archive.GetEntry(ManifestEntry)
            ?? throw new InvalidDataException($"'{path}' is not a Crate.MLNet pipeline file: it has no {ManifestEntry}.");
        Manifest manifest;
        try
        {
            using Stream stream = entry.Open();
            manifest = JsonSerializer.Deserialize<Manifest>(stream, JsonOptions) ?? throw new JsonException("null manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the manifest is corrupt: {e.Message}", e);
        }
        if (manifest.Format != FormatName)
            throw new InvalidDataException($"'{path}' is a '{manifest.Format}' file, not a Crate.MLNet pipeline.");
        if (manifest.FormatVersion > FormatVersion)
            throw new InvalidDataException(
                $"'{path}' was written by Crate.MLNet {manifest.CrateMLNetVersion} in pipeline format {manifest.FormatVersion}; " +
                $"this Crate.MLNet ({VersionOf(typeof(CratePipelineFile).Assembly)}) reads format {FormatVersion} and older. Update Crate.MLNet to load it.");
        return manifest;
    }

    private static DataViewSchema SaveMLNet(MLContext context, ZipArchive archive, string entry, IReadOnlyList<ITransformer> transformers,
        DataViewSchema inputSchema)
    {
        var chain = new TransformerChain<ITransformer>([.. transformers]);
        using (Stream stream = archive.CreateEntry(entry, CompressionLevel.NoCompression).Open())
        {
            // ML.NET's Model.Save needs a seekable stream; the zip entry is not.
            using var buffer = new MemoryStream();
            context.Model.Save(chain, inputSchema, buffer);
            buffer.Position = 0;
            buffer.CopyTo(stream);
        }
        return chain.GetOutputSchema(inputSchema);
    }

    private static (ITransformer Model, DataViewSchema InputSchema) LoadMLNet(MLContext context, ZipArchive archive, string entry, string path)
    {
        ZipArchiveEntry zipEntry = archive.GetEntry(entry) ?? throw new InvalidDataException($"{path}: the pipeline file has no entry '{entry}'.");
        using var buffer = new MemoryStream();
        using (Stream stream = zipEntry.Open()) stream.CopyTo(buffer);
        buffer.Position = 0;
        ITransformer model = context.Model.Load(buffer, out DataViewSchema inputSchema);
        return (model, inputSchema);
    }

    private static string VersionOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "unknown";

    private enum PartKind
    {
        MLNet,
        Crate,
    }

    private sealed class Part
    {
        public PartKind Kind { get; set; }

        public string Entry { get; set; } = "";

        public string? Type { get; set; }
    }

    private sealed class Manifest
    {
        public string Format { get; set; } = "";

        public int FormatVersion { get; set; }

        public string CrateMLNetVersion { get; set; } = "";

        public string MLNetVersion { get; set; } = "";

        public string TorchSharpVersion { get; set; } = "";

        public List<Part> Parts { get; set; } = [];
    }
}
