using System.Text.Json;
using Crate.Samples.SegmentImages;
using Crate.Transforms;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Microsoft.ML;

namespace Crate.Emergence;

/// <summary>
/// <c>--voc/--coco</c> split into shards (<see cref="ShardPartition"/>, the images' names as keys) and merged back into
/// the single run's report. A shard writes no metrics: every metric of a layer (eq. 13–14, the foreground metrics, the
/// permutation control, COCO AP) is a function of all images' read-outs at once (the permutation pairs image i with
/// image i+1's truth, AP ranks every detection), so a shard writes what the metrics are computed from, its images'
/// read-outs (<see cref="LayerReadouts"/>), and the merge scores them, in the whole dataset's row order, by the very code
/// a single run uses: the numbers are the single run's, to the last bit. The unit of work and of resume is one
/// (model, layer): its file in <c>readouts/</c> is written whole (temporary name, then rename) once all the shard's
/// images are read out, so a killed shard redoes at most one layer and never keeps half of one. The manifest is
/// Crate.SegmentImages' <see cref="ShardManifest"/> under this command's format.
/// </summary>
public static class EmergenceShards
{
    /// <summary>The manifest format of an Emergence shard.</summary>
    public const string Format = "crate-emergence-shard/1";

    /// <summary>The folder of the read-out files, one per model and layer.</summary>
    public const string ReadoutsFolder = "readouts";

    /// <summary>The exit code of a shard stopped by --stop-after with work left (sysexits' EX_TEMPFAIL: run it again).</summary>
    public const int StoppedExitCode = 75;

    /// <summary>The relative path of model <paramref name="model"/>'s (0-based, in --model order) read-outs of <paramref name="layer"/> (0-based).</summary>
    public static string ReadoutsFile(int model, int layer) => $"{ReadoutsFolder}/model{model}-layer{layer}.json";

    internal static ShardManifest Manifest(IReadOnlyList<string> modelPaths, SortedDictionary<string, string> options, EvaluationData data, ShardPartition shard) => new()
    {
        Format = Format,
        CodeVersion = ShardManifest.ThisCodeVersion,
        ModelSha256 = string.Join(' ', modelPaths.Select(ShardManifest.Sha256OfFile)),
        Options = options,
        ShardIndex = shard.Index,
        ShardCount = shard.Count,
        DatasetImages = data.Dataset.Count,
        DatasetSha256 = ShardManifest.Sha256OfDataset(data.Dataset),
        Images = data.Dataset.Select(d => d.Name).Where(shard.Contains).Order(StringComparer.Ordinal).ToArray(),
    };

    /// <summary>
    /// Runs shard <paramref name="shard"/> of <paramref name="data"/> (already this shard's rows) into
    /// <paramref name="output"/>: every model's read-outs of every measured layer, skipping those an earlier run of the
    /// same shard finished. Returns 0 when complete, <see cref="StoppedExitCode"/> when stopped by <paramref name="stopAfter"/>.
    /// </summary>
    public static int RunShard(MLContext context, IReadOnlyList<(string Name, CrateModel Network)> models, IReadOnlyList<string> modelPaths, EvaluationData data,
        MeasurementSettings measurement, SortedDictionary<string, string> options, ShardPartition shard, string output, int? stopAfter, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(log);
        ShardManifest manifest = Manifest(modelPaths, options, data, shard);
        Directory.CreateDirectory(output);
        if (ShardManifest.Read(output, Format) is ShardManifest earlier
            && (earlier.Disagreement(manifest) ?? (earlier.ShardIndex == shard.Index ? null : $"shard index {earlier.ShardIndex} vs {shard.Index}")) is string other)
            throw new InvalidDataException($"'{output}' holds the outputs of another run ({other}): give another --output, or delete it to start over.");
        AtomicFile.DeletePartials(output);
        manifest.Write(output);

        var evaluator = new LayerwiseEvaluator(context, data, measurement);
        var units = models.SelectMany((m, index) => evaluator.Layers(m.Network.Architecture).Select(layer => (Model: index, Layer: layer))).ToArray();
        int finished = units.Count(u => File.Exists(Path.Combine(output, ReadoutsFile(u.Model, u.Layer))));
        log.WriteLine($"Shard {shard.Index} of {shard.Count}: {manifest.Images.Length} of the {manifest.DatasetImages} images, {units.Length} (model, layer) read-outs.");
        if (finished > 0) log.WriteLine($"Resuming: {finished} read-outs done by an earlier run ({ReadoutsFolder}/), {units.Length - finished} to go.");
        int done = 0;
        foreach ((int model, int layer) in units)
        {
            string path = Path.Combine(output, ReadoutsFile(model, layer));
            if (File.Exists(path)) continue;
            if (stopAfter is int most && done >= most)
            {
                log.WriteLine($"Stopped after {done} read-outs (--stop-after); run the same command again to go on.");
                return StoppedExitCode;
            }
            CrateModel network = models[model].Network;
            // A shard may hold no image at all (N above the dataset's size): its read-outs are empty, and no network runs.
            LayerReadouts? readouts = data.ImageNames.Count == 0 ? null : evaluator.Readouts(network, network.Architecture, layer);
            var file = new ReadoutsRecord(model, layer, data.ImageNames.Select((name, row) => new ImageReadout(name,
                Pack(readouts!.Masks[row].Heads), Pack(readouts.Masks[row].Merged), Pack(readouts.OtherMasks[row].Heads), Pack(readouts.OtherMasks[row].Merged),
                readouts.Objects[row].Select(o => new ReadoutObject(o.Score, o.Mask.Height, o.Mask.Width, RleMask.FromPixels(o.Mask).ToCompressedString())).ToArray())).ToArray());
            AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, file));
            done++;
        }
        (manifest with { Complete = true }).Write(output);
        log.WriteLine($"Shard {shard.Index} of {shard.Count} complete: {output}");
        return 0;
    }

    /// <summary>
    /// Checks the shard folders of a merge against this merge's own command (models, options, the whole dataset
    /// <paramref name="whole"/>) and against each other, and returns their read-outs by (model, layer) in the whole
    /// dataset's row order, read when asked for. Refuses, naming the folder and the problem, a folder that is no shard, a
    /// shard of another run, a shard given twice or missing, an incomplete shard, images missing, duplicated or in the
    /// wrong shard, and foreign files.
    /// </summary>
    public static Func<int, int, LayerReadouts> Merge(MLContext context, IReadOnlyList<(string Name, CrateModel Network)> models, IReadOnlyList<string> modelPaths,
        EvaluationData whole, MeasurementSettings measurement, SortedDictionary<string, string> options, IReadOnlyList<string> folders)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(whole);
        ArgumentNullException.ThrowIfNull(folders);
        var evaluator = new LayerwiseEvaluator(context, whole, measurement);
        var units = models.SelectMany((m, index) => evaluator.Layers(m.Network.Architecture).Select(layer => ReadoutsFile(index, layer))).ToHashSet(StringComparer.Ordinal);
        var shards = new List<(string Folder, ShardManifest Manifest)>();
        foreach (string folder in folders)
        {
            ShardManifest manifest = ShardManifest.Read(folder, Format)
                ?? throw new InvalidDataException($"'{folder}' has no {ShardManifest.FileName}: it is not a shard's output folder.");
            int count = shards.Count > 0 ? shards[0].Manifest.ShardCount : manifest.ShardCount;
            if (manifest.ShardCount != count || manifest.ShardIndex < 0 || manifest.ShardIndex >= count)
                throw new InvalidDataException($"'{folder}' is shard {manifest.ShardIndex} of {manifest.ShardCount}, not one of the {count} shards of '{shards[0].Folder}'.");
            ShardManifest expected = Manifest(modelPaths, options, whole, new ShardPartition(manifest.ShardIndex, count));
            if (expected.Disagreement(manifest) is string other)
                throw new InvalidDataException($"'{folder}' is a shard of another run than this merge's command: {other}.");
            if (shards.FirstOrDefault(s => s.Manifest.ShardIndex == manifest.ShardIndex) is { Folder: not null } twin)
                throw new InvalidDataException($"'{twin.Folder}' and '{folder}' are both shard {manifest.ShardIndex} of {count}.");
            if (!manifest.Complete)
                throw new InvalidDataException($"'{folder}' (shard {manifest.ShardIndex} of {count}) is incomplete. Run its command again to finish it.");
            if (manifest.Images.Except(expected.Images, StringComparer.Ordinal).FirstOrDefault() is string stray)
                throw new InvalidDataException($"'{folder}' (shard {manifest.ShardIndex}) lists image '{stray}', which is not one of its shard's images.");
            if (expected.Images.Except(manifest.Images, StringComparer.Ordinal).FirstOrDefault() is string lost)
                throw new InvalidDataException($"'{folder}' (shard {manifest.ShardIndex}) is missing image '{lost}' of its shard.");
            foreach (string path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/');
                if (relative != ShardManifest.FileName && !units.Contains(relative))
                    throw new InvalidDataException($"'{folder}' holds '{relative}', which no shard of this merge writes (a foreign file): remove it, or give the right folder.");
            }
            foreach (string unit in units)
            {
                ReadoutsRecord record = Read(folder, unit);
                if (record.Images.GroupBy(i => i.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
                    throw new InvalidDataException($"'{folder}/{unit}' holds image '{twice.Key}' twice.");
                if (!record.Images.Select(i => i.Name).Order(StringComparer.Ordinal).SequenceEqual(manifest.Images, StringComparer.Ordinal))
                    throw new InvalidDataException($"'{folder}/{unit}' holds other images than its shard's {manifest.Images.Length}.");
            }
            shards.Add((folder, manifest));
        }
        if (shards.Count == 0) throw new ArgumentException("The merge has no shard folders.");
        int[] missing = Enumerable.Range(0, shards[0].Manifest.ShardCount).Except(shards.Select(s => s.Manifest.ShardIndex)).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"Shard{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)} of {shards[0].Manifest.ShardCount} missing: give every shard's folder.");

        return (model, layer) =>
        {
            var byName = shards.SelectMany(s => Read(s.Folder, ReadoutsFile(model, layer)).Images).ToDictionary(i => i.Name, StringComparer.Ordinal);
            ImageReadout[] rows = whole.ImageNames.Select(name => byName[name]).ToArray();
            return new LayerReadouts(
                rows.Select(r => new GridMasks(Unpack(r.Heads), Unpack(r.Merged))).ToArray(),
                rows.Select(r => new GridMasks(Unpack(r.OtherHeads), Unpack(r.OtherMerged))).ToArray(),
                rows.Select(r => (IReadOnlyList<(BinaryMask, double)>)r.Objects
                    .Select(o => (RleMask.FromCompressedString(o.Counts, o.Height, o.Width).ToPixels(), o.Score)).ToArray()).ToArray());
        };
    }

    private static ReadoutsRecord Read(string folder, string unit)
    {
        string path = Path.Combine(folder, unit);
        if (!File.Exists(path)) throw new InvalidDataException($"'{folder}' has no '{unit}': the shard is missing read-outs (run its command again).");
        try
        {
            return JsonSerializer.Deserialize<ReadoutsRecord>(File.ReadAllBytes(path)) is { Images: not null } record
                ? record : throw new InvalidDataException($"'{path}' is not a read-outs file.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a read-outs file: {e.Message}", e);
        }
    }

    // Masks as one byte per cell, base64: exact, and a tenth of JSON's true/false.
    private static string Pack(bool[] cells) => Convert.ToBase64String(Array.ConvertAll(cells, c => c ? (byte)1 : (byte)0));

    private static bool[] Unpack(string packed) => Array.ConvertAll(Convert.FromBase64String(packed), b => b != 0);

    private sealed record ReadoutsRecord(int Model, int Layer, ImageReadout[] Images);

    /// <summary>One image's read-outs: head and merged masks under the measurement's rule and the other one, and MaskCut's objects.</summary>
    private sealed record ImageReadout(string Name, string Heads, string Merged, string OtherHeads, string OtherMerged, ReadoutObject[] Objects);

    /// <summary>One MaskCut object: its score (a float, exact as a double) and its mask as COCO's compressed RLE.</summary>
    private sealed record ReadoutObject(double Score, int Height, int Width, string Counts);
}
