using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Crate.Samples.SegmentImages;

/// <summary>
/// shard.json: what a run of one shard is (code version, model, options, dataset, which shard and its images) and
/// whether it finished. Written when the run starts and rewritten when it completes, each time whole to a temporary
/// file renamed over the old one, so a reader sees the old or the new manifest, never a mixture. Which images are done
/// is the journal's (<see cref="ShardJournal"/>).
/// </summary>
internal sealed record ShardManifest
{
    public const string FileName = "shard.json";

    /// <summary>The format of this file; a merge refuses another.</summary>
    public const string CurrentFormat = "crate-segment-images-shard/1";

    public string Format { get; init; } = CurrentFormat;

    /// <summary>Crate.Transforms' informational version (with the commit when built from git).</summary>
    public required string CodeVersion { get; init; }

    /// <summary>SHA-256 of the model file's bytes, lower-case hex.</summary>
    public required string ModelSha256 { get; init; }

    /// <summary>The options that shape the outputs, by command-line name, sorted.</summary>
    public required SortedDictionary<string, string> Options { get; init; }

    public required int ShardIndex { get; init; }

    public required int ShardCount { get; init; }

    /// <summary>Images of the whole dataset, every shard's.</summary>
    public required int DatasetImages { get; init; }

    /// <summary>SHA-256 of the whole dataset's "file\tid\n" lines in ordinal order of the files: the same images under the same ids.</summary>
    public required string DatasetSha256 { get; init; }

    /// <summary>This shard's images (paths relative to the image folder, '/'-separated), in ordinal order.</summary>
    public required string[] Images { get; init; }

    /// <summary>Whether every image of <see cref="Images"/> is done and the shard's results files are written.</summary>
    public bool Complete { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The manifest in <paramref name="folder"/>, or null when it has none; <paramref name="format"/> is Crate.Emergence's for its shards.</summary>
    public static ShardManifest? Read(string folder, string format = CurrentFormat)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        ShardManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ShardManifest>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a shard manifest: {e.Message}", e);
        }
        if (manifest is null || manifest.Format != format)
            throw new InvalidDataException($"'{path}' is not a shard manifest of format {format} (it says '{manifest?.Format}').");
        return manifest;
    }

    public void Write(string folder) => AtomicFile.Write(Path.Combine(folder, FileName), stream => JsonSerializer.Serialize(stream, this, Json));

    /// <summary>
    /// The first way in which <paramref name="other"/> is a run of something else (code, model, options, dataset,
    /// shard count), in words, or null when both are shards of one run.
    /// </summary>
    public string? Disagreement(ShardManifest other)
    {
        if (other.CodeVersion != CodeVersion) return $"code version {CodeVersion} vs {other.CodeVersion}";
        if (other.ModelSha256 != ModelSha256) return $"model sha256 {ModelSha256} vs {other.ModelSha256}";
        foreach (string key in Options.Keys.Union(other.Options.Keys).Order(StringComparer.Ordinal))
        {
            string mine = Options.GetValueOrDefault(key, "(none)"), theirs = other.Options.GetValueOrDefault(key, "(none)");
            if (mine != theirs) return $"option {key} {mine} vs {theirs}";
        }
        if (other.ShardCount != ShardCount) return $"shard count {ShardCount} vs {other.ShardCount}";
        if (other.DatasetImages != DatasetImages || other.DatasetSha256 != DatasetSha256)
            return $"dataset of {DatasetImages} images (sha256 {DatasetSha256}) vs {other.DatasetImages} images (sha256 {other.DatasetSha256})";
        return null;
    }

    /// <summary>This build's code version: Crate.Transforms' informational version (with the commit when built from git).</summary>
    public static string ThisCodeVersion =>
        typeof(Crate.Transforms.Network.CrateModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string Sha256OfFile(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Sha256OfDataset(IEnumerable<(string File, long Id)> images) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Concat(images.OrderBy(i => i.File, StringComparer.Ordinal).Select(i => $"{i.File}\t{i.Id}\n")))));
}

/// <summary>Files written whole or not at all: to a temporary name in the same folder, then renamed over the target.</summary>
internal static class AtomicFile
{
    /// <summary>The prefix of the temporary files; a resumed run deletes what a killed one left, and a merge refuses them.</summary>
    public const string PartialPrefix = ".partial-";

    public static void Write(string path, Action<Stream> write) => WriteFile(path, partial =>
    {
        using FileStream stream = File.Create(partial);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    /// <summary>Writes through <paramref name="write"/>, given the temporary path (same extension as <paramref name="path"/>).</summary>
    public static void WriteFile(string path, Action<string> write)
    {
        string folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        string partial = Path.Combine(folder, PartialPrefix + Path.GetFileName(path));
        write(partial);
        File.Move(partial, path, overwrite: true);
    }

    /// <summary>Deletes the temporary files under <paramref name="folder"/> that a killed run left.</summary>
    public static void DeletePartials(string folder)
    {
        foreach (string partial in Directory.EnumerateFiles(folder, PartialPrefix + "*", SearchOption.AllDirectories)) File.Delete(partial);
    }
}
