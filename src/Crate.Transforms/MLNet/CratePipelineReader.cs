using System.IO.Compression;
using System.Text.Json;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.MLNet;

/// <summary>Reads back what a <see cref="CratePipelineWriter"/> wrote; a network shared by several transformers is loaded once.</summary>
public sealed class CratePipelineReader
{
    private readonly ZipArchive archive;
    private readonly string prefix;
    private readonly Dictionary<string, CrateModel> networks;
    private readonly string fileName;

    internal CratePipelineReader(ZipArchive archive, string prefix, Dictionary<string, CrateModel> networks, string fileName)
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

    /// <summary>Reads what <see cref="CratePipelineWriter.WriteNetworkAndOptions{TOptions}"/> wrote.</summary>
    public (CrateModel Network, TOptions Options) ReadNetworkAndOptions<TOptions>(Device? device = null) =>
        (ReadNetwork(ReadJson<string>(CratePipelineWriter.NetworkEntry), device), ReadJson<TOptions>(CratePipelineWriter.OptionsEntry));

    /// <summary>The network stored under <paramref name="id"/>, on <paramref name="device"/> (CPU when null).</summary>
    public CrateModel ReadNetwork(string id, Device? device = null)
    {
        if (networks.TryGetValue(id, out CrateModel? network)) return network;
        string temporary = Path.Combine(Path.GetTempPath(), $"crate-network-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (Stream source = Open(id))
            using (FileStream target = File.Create(temporary))
                source.CopyTo(target);
            network = CrateModelFile.Load(temporary, device);
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
