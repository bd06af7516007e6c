using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;

namespace Crate.Transforms.MLNet;

/// <summary>
/// Where one Crate.MLNet transformer writes itself inside a pipeline file: named entries of its own, and
/// networks, which are stored once however many transformers share them.
/// </summary>
public sealed class CratePipelineWriter
{
    private readonly ZipArchive archive;
    private readonly string prefix;
    private readonly Dictionary<CrateModel, string> networks;

    internal CratePipelineWriter(ZipArchive archive, string prefix, Dictionary<CrateModel, string> networks)
    {
        this.archive = archive;
        this.prefix = prefix;
        this.networks = networks;
    }

    /// <summary>Stores <paramref name="value"/> as JSON under <paramref name="name"/>.</summary>
    public void WriteJson<T>(string name, T value)
    {
        using Stream stream = archive.CreateEntry(prefix + name, CompressionLevel.Optimal).Open();
        JsonSerializer.Serialize(stream, value, CratePipelineFile.JsonOptions);
    }

    /// <summary>Stores raw bytes under <paramref name="name"/>.</summary>
    public void WriteBytes(string name, ReadOnlySpan<byte> bytes)
    {
        using Stream stream = archive.CreateEntry(prefix + name, CompressionLevel.Optimal).Open();
        stream.Write(bytes);
    }

    /// <summary>Stores a transformer's options and a reference to its network: what most transformers are made of.</summary>
    public void WriteNetworkAndOptions<TOptions>(CrateModel network, TOptions options)
    {
        WriteJson(OptionsEntry, options);
        WriteJson(NetworkEntry, WriteNetwork(network));
    }

    internal const string OptionsEntry = "options.json";
    internal const string NetworkEntry = "network.json";

    /// <summary>The folder of the archive the networks are stored in, as <c>networks/&lt;n&gt;.safetensors</c>.</summary>
    internal const string NetworksFolder = "networks/";

    /// <summary>Stores the network (once per pipeline file) and returns the id to read it back by.</summary>
    public string WriteNetwork(CrateModel network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (networks.TryGetValue(network, out string? id)) return id;
        id = $"{NetworksFolder}{networks.Count}.safetensors";
        string temporary = Path.Combine(Path.GetTempPath(), $"crate-network-{Guid.NewGuid():N}.safetensors");
        try
        {
            CrateModelFile.Save(network, temporary);
            archive.CreateEntryFromFile(temporary, id, CompressionLevel.NoCompression);
        }
        finally
        {
            File.Delete(temporary);
        }
        networks.Add(network, id);
        return id;
    }
}
