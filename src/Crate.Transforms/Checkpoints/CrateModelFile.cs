using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Crate.Transforms.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// Crate.MLNet's own model file: a safetensors file of the network's float32 weights under its state-dict names,
/// whose metadata carries everything needed to rebuild the network (<see cref="CrateArchitecture.ToJson"/>) and
/// the versions that wrote it. Loading it executes nothing from the file.
/// </summary>
public static class CrateModelFile
{
    /// <summary>The metadata value of <c>format</c> that marks a Crate.MLNet model file.</summary>
    public const string FormatName = "crate-mlnet-model";

    /// <summary>The file layout version this library writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Metadata key of the format name.</summary>
    public const string FormatKey = "format";

    /// <summary>Metadata key of the layout version.</summary>
    public const string FormatVersionKey = "format_version";

    /// <summary>Metadata key of the architecture JSON.</summary>
    public const string ArchitectureKey = "architecture";

    /// <summary>Metadata key of the writing Crate.MLNet version.</summary>
    public const string CrateVersionKey = "crate_mlnet_version";

    /// <summary>Metadata key of the writing TorchSharp version.</summary>
    public const string TorchSharpVersionKey = "torchsharp_version";

    /// <summary>
    /// Writes <paramref name="model"/> (on any device) to <paramref name="path"/>, replacing any file there only once
    /// the new one is complete.
    /// </summary>
    public static void Save(CrateModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> weights = model.state_dict()
            .ToDictionary(p => p.Key, p => p.Value.detach().to(ScalarType.Float32, CPU));
        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = FormatName,
            [FormatVersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [ArchitectureKey] = model.Architecture.ToJson(),
            [CrateVersionKey] = InformationalVersion(typeof(CrateModelFile).Assembly),
            [TorchSharpVersionKey] = InformationalVersion(typeof(torch).Assembly),
        };
        SafeTensorsFile.Write(path, weights, metadata);
    }

    /// <summary>
    /// Rebuilds the network saved at <paramref name="path"/> on <paramref name="device"/> (the CPU by default).
    /// The file must be a Crate.MLNet model of a format version this library reads, and its weights must match the
    /// architecture exactly.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">Not safetensors, not a Crate.MLNet model, a newer format
    /// version, or an unreadable architecture.</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not match the architecture.</exception>
    public static CrateModel Load(string path, Device? device = null)
    {
        CrateArchitecture architecture = ReadArchitecture(path);
        (Dictionary<string, Tensor> weights, _) = SafeTensorsFile.Read(path);
        try
        {
            return StateDictLoader.CreateLoaded(architecture, weights, path, strict: true, device, out _);
        }
        finally
        {
            foreach (Tensor weight in weights.Values)
                weight.Dispose();
        }
    }

    /// <summary>The architecture recorded in the model file at <paramref name="path"/>, read from its header only.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">Not a Crate.MLNet model file this version reads.</exception>
    public static CrateArchitecture ReadArchitecture(string path) => ArchitectureOf(SafeTensorsFile.ReadMetadata(path), path);

    /// <summary>The architecture in a model file's metadata, checked; <paramref name="path"/> names the file in errors.</summary>
    internal static CrateArchitecture ArchitectureOf(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(FormatKey, out string? format) || format != FormatName)
            throw new CheckpointFormatException(
                $"'{path}' is not a Crate.MLNet model file (its metadata has format '{format ?? "(none)"}', not '{FormatName}'); " +
                "to read a PyTorch checkpoint use CrateCheckpointImporter.");
        if (!metadata.TryGetValue(FormatVersionKey, out string? versionText)
            || !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw new CheckpointFormatException($"'{path}' has no valid {FormatVersionKey} in its metadata (found '{versionText ?? "(none)"}').");
        if (version > FormatVersion)
            throw new CheckpointFormatException(
                $"'{path}' was written by a newer Crate.MLNet (format {version}); this version reads format {FormatVersion}.");
        if (!metadata.TryGetValue(ArchitectureKey, out string? json))
            throw new CheckpointFormatException($"'{path}' has no {ArchitectureKey} in its metadata.");
        try
        {
            CrateArchitecture architecture = CrateArchitecture.FromJson(json);
            architecture.Validate();
            return architecture;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new CheckpointFormatException($"'{path}' has an unusable architecture in its metadata: {e.Message}", e);
        }
    }

    internal static string InformationalVersion(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString()
        ?? "unknown";
}
