using System.IO.Compression;
using System.Text.Json;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;

namespace Crate.Transforms.MLNet;

/// <summary>
/// Reads back what a <see cref="CratePipelineWriter"/> wrote; a network shared by several transformers is loaded once,
/// and it is freed when the last transformer holding it is disposed.
/// </summary>
public sealed class CratePipelineReader
{
    private readonly ZipArchive archive;
    private readonly string prefix;
    private readonly Dictionary<string, NetworkLease> networks;
    private readonly string fileName;

    internal CratePipelineReader(ZipArchive archive, string prefix, Dictionary<string, NetworkLease> networks, string fileName)
    {
        this.archive = archive;
        this.prefix = prefix;
        this.networks = networks;
        this.fileName = fileName;
    }

    /// <summary>Reads the JSON entry <paramref name="name"/>.</summary>
    public T ReadJson<T>(string name)
    {
        using Stream stream = Open(prefix + name);
        return JsonSerializer.Deserialize<T>(stream, CratePipelineFile.JsonOptions)
            ?? throw new InvalidDataException($"{fileName}: entry '{prefix + name}' is empty.");
    }

    /// <summary>Reads the raw entry <paramref name="name"/>.</summary>
    public byte[] ReadBytes(string name)
    {
        using Stream stream = Open(prefix + name);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Reads what <see cref="CratePipelineWriter.WriteNetworkAndOptions{TOptions}"/> wrote. The lease is the
    /// reader's: a transformer made from it takes a lease of its own.</summary>
    internal (NetworkLease Network, TOptions Options) ReadNetworkAndOptions<TOptions>() =>
        (ReadNetwork(ReadJson<string>(CratePipelineWriter.NetworkEntry)), ReadJson<TOptions>(CratePipelineWriter.OptionsEntry));

    /// <summary>The network stored under <paramref name="id"/>, on the CPU; the lease is the reader's.</summary>
    internal NetworkLease ReadNetwork(string id)
    {
        if (networks.TryGetValue(id, out NetworkLease? network)) return network;
        string temporary = Path.Combine(Path.GetTempPath(), $"crate-network-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (Stream source = Open(id))
            using (FileStream target = File.Create(temporary))
                source.CopyTo(target);
            network = NetworkLease.Own(CrateModelFile.Load(temporary));
        }
        finally
        {
            File.Delete(temporary);
        }
        networks.Add(id, network);
        return network;
    }

    private Stream Open(string entryName) =>
        (archive.GetEntry(entryName) ?? throw new InvalidDataException($"{fileName}: the pipeline file has no entry '{entryName}'.")).Open();
}
