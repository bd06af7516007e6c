using System.IO.Compression;
using System.Text;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// Builds small torch.save-layout archives by hand, from the pickle protocol-2 opcode table and the archive layout
/// of the reference spec (<c>&lt;top&gt;/data.pkl</c>, <c>&lt;top&gt;/data/&lt;key&gt;</c>, <c>&lt;top&gt;/version</c>), for cases no
/// PyTorch fixture covers. Methods append opcodes to the pickle and return this builder.
/// </summary>
internal sealed class HandMadeCheckpoint
{
    private readonly MemoryStream pickle = new();
    private readonly Dictionary<string, byte[]> entries = new();

    /// <summary>The pickle written so far.</summary>
    public byte[] Pickle => pickle.ToArray();

    /// <summary>Raw opcode bytes.</summary>
    public HandMadeCheckpoint Op(params byte[] bytes)
    {
        pickle.Write(bytes);
        return this;
    }

    /// <summary>PROTO 2.</summary>
    public HandMadeCheckpoint Protocol2() => Op(0x80, 2);

    /// <summary>BINUNICODE: 4-byte little-endian length, UTF-8.</summary>
    public HandMadeCheckpoint Text(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        return Op((byte)'X').Op(BitConverter.GetBytes(utf8.Length)).Op(utf8);
    }

    /// <summary>BININT: 4-byte little-endian signed.</summary>
    public HandMadeCheckpoint Int(int value) => Op((byte)'J').Op(BitConverter.GetBytes(value));

    /// <summary>GLOBAL: "module\nname\n".</summary>
    public HandMadeCheckpoint Global(string module, string name) => Op((byte)'c').Op(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    /// <summary>MARK, the items, TUPLE.</summary>
    public HandMadeCheckpoint Tuple(params int[] values)
    {
        Op((byte)'(');
        foreach (int value in values)
            Int(value);
        return Op((byte)'t');
    }

    /// <summary>
    /// <c>_rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())</c> for storage
    /// <paramref name="key"/> of class <c>torch.<paramref name="storageClass"/></c> with <paramref name="count"/> elements.
    /// </summary>
    public HandMadeCheckpoint Tensor(string storageClass, string key, int count, int offset, int[] size, int[] stride, string location = "cpu")
    {
        Global("torch._utils", "_rebuild_tensor_v2").Op((byte)'(');
        Op((byte)'(').Text("storage").Global("torch", storageClass).Text(key).Text(location).Int(count).Op((byte)'t', (byte)'Q');
        Int(offset).Tuple(size).Tuple(stride).Op(0x89);
        Global("collections", "OrderedDict").Op((byte)')', (byte)'R');
        return Op((byte)'t', (byte)'R');
    }

    /// <summary>Adds the archive entry data/<paramref name="key"/>.</summary>
    public HandMadeCheckpoint Storage(string key, byte[] bytes)
    {
        entries[key] = bytes;
        return this;
    }

    /// <summary>
    /// Writes the archive: data.pkl, the storages, version and, when given, the byteorder entry, stored uncompressed
    /// as torch does.
    /// </summary>
    public void Save(string path, string? byteOrder = null)
    {
        const string top = "archive";
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        Write(zip, $"{top}/data.pkl", Pickle);
        foreach ((string key, byte[] bytes) in entries)
            Write(zip, $"{top}/data/{key}", bytes);
        Write(zip, $"{top}/version", "3\n"u8.ToArray());
        if (byteOrder is not null)
            Write(zip, $"{top}/byteorder", Encoding.ASCII.GetBytes(byteOrder));
    }

    private static void Write(ZipArchive zip, string name, byte[] bytes)
    {
        using Stream stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        stream.Write(bytes);
    }
}
