using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A <c>torch.save</c> zip archive (PyTorch 1.6 and later): <c>&lt;top&gt;/data.pkl</c>, the pickled object,
/// refers to storages by persistent id <c>('storage', storage class, key, location, numel)</c> whose raw
/// little-endian elements are the entries <c>&lt;top&gt;/data/&lt;key&gt;</c>. Every structural problem surfaces as
/// <see cref="CheckpointFormatException"/> naming the file.
/// </summary>
internal sealed class TorchArchive : IDisposable
{
    // data.pkl holds only structure (tensor data lives in the storage entries): real ones are kilobytes.
    private const long MaxPickleBytes = 256L << 20;
    private const int CopyBufferBytes = 1 << 20;

    private readonly ZipArchive zip;
    private readonly string path;
    private readonly string top;
    private readonly Dictionary<string, PickleStorage> storages = new(StringComparer.Ordinal);

    private TorchArchive(ZipArchive zip, string path, string top)
    {
        this.zip = zip;
        this.path = path;
        this.top = top;
    }

    /// <summary>Opens and checks the archive; throws <see cref="FileNotFoundException"/> when there is no file.</summary>
    public static TorchArchive Open(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The checkpoint file '{path}' does not exist.", path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            RequireZipSignature(file, path);
            ZipArchive zip;
            try
            {
                zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: false);
            }
            catch (InvalidDataException e)
            {
                throw new CheckpointFormatException($"'{path}' is a truncated or corrupt zip archive: {e.Message}", e);
            }
            var archive = new TorchArchive(zip, path, FindTop(zip, path));
            archive.RequireLittleEndian();
            return archive;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Unpickles <c>data.pkl</c> with the restricted unpickler, resolving storages against the archive.</summary>
    public object? ReadPickle()
    {
        ZipArchiveEntry entry = zip.GetEntry(top + "data.pkl")!;
        byte[] pickle = ReadAll(entry, MaxPickleBytes);
        return RestrictedUnpickler.Load(pickle, $"'{path}' ({entry.FullName})", LoadPersistent);
    }

    /// <summary>The storage's elements as a 1-D CPU tensor of its element type (which must be readable).</summary>
    public Tensor ReadStorage(PickleStorage storage)
    {
        ScalarType type = storage.Type.ElementType
            ?? throw new InvalidOperationException($"Storage {storage.Type.Name} has no readable element type.");
        Tensor tensor = empty(new[] { storage.ElementCount }, type);
        if (storage.ElementCount == 0)
            return tensor;
        try
        {
            ReadVerified(StorageEntry(storage.Key), stream => tensor.ReadBytesFromStream(stream, CopyBufferBytes));
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => zip.Dispose();

    private static void RequireZipSignature(FileStream file, string path)
    {
        Span<byte> head = stackalloc byte[4];
        int read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        file.Position = 0;
        if (read == 4 && head.SequenceEqual("PK\x03\x04"u8))
            return;
        // torch.save before 1.6 wrote a bare pickle stream starting with the PROTO opcode.
        if (read >= 1 && head[0] == 0x80)
            throw new CheckpointFormatException(
                $"'{path}' is a legacy (pre-1.6, non-zip) torch.save file, which is not supported; " +
                "re-save it with a current PyTorch (torch.save writes zip archives by default).");
        throw new CheckpointFormatException(
            $"'{path}' is not a PyTorch checkpoint (zip archive): it does not start with a zip signature.");
    }

    private static string FindTop(ZipArchive zip, string path)
    {
        List<string> pickles;
        try
        {
            pickles = zip.Entries.Select(e => e.FullName)
                .Where(name => name.EndsWith("/data.pkl", StringComparison.Ordinal) && name.IndexOf('/') == name.Length - "/data.pkl".Length)
                .ToList();
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException($"'{path}' is a truncated or corrupt zip archive: {e.Message}", e);
        }
        return pickles.Count switch
        {
            1 => pickles[0][..^"data.pkl".Length],
            0 => throw new CheckpointFormatException($"'{path}' is a zip archive but not a PyTorch checkpoint: it has no <name>/data.pkl entry."),
            _ => throw new CheckpointFormatException($"'{path}' holds {pickles.Count} data.pkl entries ({KeyList.Format(pickles)}); a checkpoint has one."),
        };
    }

    private void RequireLittleEndian()
    {
        ZipArchiveEntry? entry = zip.GetEntry(top + "byteorder");
        if (entry is null)
            return; // Archives from before the entry existed are little-endian.
        string order = Encoding.ASCII.GetString(ReadAll(entry, 16)).Trim();
        if (order != "little")
            throw new CheckpointFormatException(
                $"'{path}' stores its tensors in '{order}' byte order; only little-endian checkpoints are supported.");
    }

    private PickleStorage LoadPersistent(object?[] id)
    {
        // The location (cpu, cuda:0, …) only says where the tensor was saved from; everything is read to the CPU.
        if (id is not ["storage", PickleGlobal { Kind: PickleGlobalKind.StorageType, Storage: { } type }, string key, string, long count])
            throw new CheckpointFormatException(
                $"'{path}' has a persistent id that is not ('storage', storage class, key, location, numel).");
        if (count < 0)
            throw new CheckpointFormatException($"'{path}': storage '{key}' has a negative element count {count}.");
        if (storages.TryGetValue(key, out PickleStorage? known))
        {
            if (known.Type != type || known.ElementCount != count)
                throw new CheckpointFormatException($"'{path}': storage '{key}' is described two different ways.");
            return known;
        }
        ZipArchiveEntry entry = StorageEntry(key);
        if (type.IsReadable)
        {
            long bytes;
            try
            {
                bytes = checked(count * type.ElementSize);
            }
            catch (OverflowException e)
            {
                throw new CheckpointFormatException($"'{path}': storage '{key}' claims {count} elements, more than can exist.", e);
            }
            if (entry.Length != bytes)
                throw new CheckpointFormatException(
                    $"'{path}' is truncated or corrupt: storage '{key}' ({type.Name}) should hold {count} elements " +
                    $"({bytes} bytes) but entry {entry.FullName} has {entry.Length} bytes.");
        }
        var storage = new PickleStorage(key, type, count);
        storages[key] = storage;
        return storage;
    }

    private ZipArchiveEntry StorageEntry(string key)
    {
        if (key.Length == 0 || !key.All(char.IsAsciiLetterOrDigit))
            throw new CheckpointFormatException($"'{path}': storage key '{key}' is not a plain name.");
        return zip.GetEntry($"{top}data/{key}")
            ?? throw new CheckpointFormatException($"'{path}' is truncated or corrupt: storage '{key}' has no entry {top}data/{key}.");
    }

    private byte[] ReadAll(ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > limit)
            throw new CheckpointFormatException($"'{path}': entry {entry.FullName} has {entry.Length} bytes, more than the {limit} allowed.");
        var bytes = new byte[entry.Length];
        ReadVerified(entry, stream => stream.ReadExactly(bytes));
        return bytes;
    }

    /// <summary>Runs <paramref name="read"/>, which must consume the whole entry, then checks the entry's CRC-32.</summary>
    private void ReadVerified(ZipArchiveEntry entry, Action<Stream> read)
    {
        try
        {
            using var stream = new Crc32ReadStream(entry.Open());
            read(stream);
            if (stream.Crc != entry.Crc32)
                throw new CheckpointFormatException(
                    $"'{path}' is truncated or corrupt: entry {entry.FullName} fails its CRC-32 check " +
                    $"(recorded {entry.Crc32:x8}, computed {stream.Crc:x8}).");
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new CheckpointFormatException($"'{path}' is truncated or corrupt: entry {entry.FullName} cannot be read ({e.Message}).", e);
        }
    }
}
