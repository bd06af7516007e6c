using System.IO.Compression;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;

namespace Crate.Transforms.Checkpoints;

/// <summary>The kinds of file a CRATE network is read from.</summary>
public enum CrateNetworkFileFormat
{
    /// <summary>A Crate.MLNet model file (<see cref="CrateModelFile"/>): safetensors with the architecture in its metadata.</summary>
    ModelFile,

    /// <summary>A pipeline saved by <see cref="CratePipelineFile"/> (a zip with a manifest): the network of its classifier or read-out.</summary>
    PipelineFile,

    /// <summary>A <c>torch.save</c> archive of the reference code (<see cref="CrateCheckpointImporter"/>), which needs
    /// <see cref="CheckpointImportOptions"/> (at least the head count).</summary>
    TorchCheckpoint,
}

/// <summary>
/// One way in for any file that holds a CRATE network, whatever wrote it: a Crate.MLNet model file, a saved pipeline or
/// an authors' PyTorch checkpoint. The format is told from the content, not the file name.
/// </summary>
public static class CrateNetworkFile
{
    /// <summary>Which kind of network file is at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is none of the three (the message says what it is, when known).</exception>
    public static CrateNetworkFileFormat DetectFormat(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"There is no model file at '{path}'.", path);
        if (IsZip(path))
        {
            ZipArchive archive;
            try
            {
                archive = ZipFile.OpenRead(path);
            }
            catch (InvalidDataException e)
            {
                throw new CheckpointFormatException($"'{path}' is a truncated or corrupt zip archive: {e.Message}", e);
            }
            using (archive)
            {
                if (archive.GetEntry("manifest.json") is not null) return CrateNetworkFileFormat.PipelineFile;
                if (archive.Entries.Any(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)))
                    return CrateNetworkFileFormat.TorchCheckpoint;
            }
            throw new CheckpointFormatException(
                $"'{path}' is a zip archive, but neither a Crate.MLNet pipeline (no manifest.json) nor a torch.save checkpoint (no data.pkl).");
        }
        Dictionary<string, string> metadata;
        try
        {
            metadata = SafeTensorsFile.ReadMetadata(path);
        }
        catch (CheckpointFormatException e)
        {
            throw new CheckpointFormatException(
                $"'{path}' is neither a Crate.MLNet model file (safetensors), a pipeline file (zip) nor a torch.save checkpoint (zip): {e.Message}", e);
        }
        metadata.TryGetValue(CrateModelFile.FormatKey, out string? format);
        return format switch
        {
            CrateModelFile.FormatName => CrateNetworkFileFormat.ModelFile,
            TrainingCheckpointFormat => throw new CheckpointFormatException(
                $"'{path}' is a training checkpoint: continue its run with CrateTrainerOptions.ResumeFrom, or use the model file the run saves."),
            _ => throw new CheckpointFormatException(
                $"'{path}' is a safetensors file without a CRATE architecture in its metadata (format '{format ?? "(none)"}', not '{CrateModelFile.FormatName}')."),
        };
    }

    /// <summary>
    /// The network in the file at <paramref name="path"/>, on the CPU (a checkpoint where its options put it): a model
    /// file's, the one network of a pipeline file, or a checkpoint imported with <paramref name="checkpointOptions"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="checkpointOptions">How to import a PyTorch checkpoint (its head count at least); not used for the other formats.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">Not a network file, or an unreadable one.</exception>
    /// <exception cref="InvalidDataException">A pipeline file with no network or several.</exception>
    /// <exception cref="ArgumentException">A checkpoint without the import options it needs.</exception>
    public static CrateModel Load(string path, CheckpointImportOptions? checkpointOptions = null) => DetectFormat(path) switch
    {
        CrateNetworkFileFormat.ModelFile => CrateModelFile.Load(path),
        CrateNetworkFileFormat.PipelineFile => CratePipelineFile.LoadNetwork(path),
        _ => CrateCheckpointImporter.Import(path, RequireOptions(path, checkpointOptions)),
    };

    /// <summary>The architecture <see cref="Load"/> would build, read from headers and shapes without building the network.</summary>
    /// <inheritdoc cref="Load" path="/param"/>
    /// <inheritdoc cref="Load" path="/exception"/>
    public static CrateArchitecture ReadArchitecture(string path, CheckpointImportOptions? checkpointOptions = null) => DetectFormat(path) switch
    {
        CrateNetworkFileFormat.ModelFile => CrateModelFile.ReadArchitecture(path),
        CrateNetworkFileFormat.PipelineFile => CratePipelineFile.ReadNetworkArchitecture(path),
        _ => CrateCheckpointImporter.ReadArchitecture(path, RequireOptions(path, checkpointOptions)),
    };

    /// <summary>The metadata format of Crate.Trainers' training checkpoints (written there, recognised here to say what the file is).</summary>
    internal const string TrainingCheckpointFormat = "crate-mlnet-training-checkpoint";

    /// <summary>The import options a checkpoint needs, or an error saying why they are needed.</summary>
    internal static CheckpointImportOptions RequireOptions(string path, CheckpointImportOptions? checkpointOptions) =>
        checkpointOptions ?? throw new ArgumentException(
            $"'{path}' is a PyTorch checkpoint, which does not record the head count K: pass CheckpointImportOptions with Heads (or ConfigName).",
            nameof(checkpointOptions));

    private static bool IsZip(string path)
    {
        Span<byte> signature = stackalloc byte[4];
        using FileStream file = File.OpenRead(path);
        return file.ReadAtLeast(signature, 4, throwOnEndOfStream: false) == 4
            && signature[0] == (byte)'P' && signature[1] == (byte)'K' && signature[2] is 3 or 5 && signature[3] is 4 or 6;
    }
}
