using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Spectre.Console;

namespace Crate.Samples.SegmentImages;

/// <summary>
/// <c>merge</c>: the output folders of shards 0…N−1 of one run → one output folder as a single run writes it (the
/// pictures and masks, images.json, maskcut-results.json in the single run's order) and, given the truth, the
/// evaluation of the merged results (COCO AP of MaskCut's objects, mIoU of CrateSegment's masks) in metrics.json.
/// Refuses, naming the folder and the problem: a shard incomplete, of another run (code, model, options, dataset),
/// given twice or missing; an image missing, in two shards or in the wrong one; a file that no shard writes.
/// </summary>
internal static class ShardMerge
{
    public const string MetricsFile = "metrics.json";

    private static readonly string[] RecordFiles = [ShardManifest.FileName, ShardJournal.FileName, ShardJournal.ImagesFile, ShardJournal.ResultsFile];

    public static Command Command(IAnsiConsole console)
    {
        var shards = new Argument<DirectoryInfo[]>("shards") { Description = "The shards' --output folders, every shard of the run once.", Arity = ArgumentArity.OneOrMore }
            .AcceptExistingOnly();
        var output = new Option<DirectoryInfo>("--output") { Description = "The merged output folder (new or empty).", Required = true };
        var truth = new Option<FileInfo>("--truth")
        {
            Description = "COCO instances JSON of the images (e.g. annotations/instances_val2017.json): the merged MaskCut results get class-agnostic COCO AP (masks and boxes).",
        }.AcceptExistingOnly();
        var truthMasks = new Option<DirectoryInfo>("--truth-masks")
        {
            Description = "Folder of PNG label maps named after the images (VOC's SegmentationClass): CrateSegment's masks get foreground/background mIoU (255 is void).",
        }.AcceptExistingOnly();
        var command = new Command("merge", "Join the output folders of a sharded run into the single run's outputs, and evaluate them.") { shards, output, truth, truthMasks };
        command.SetAction(parsed => SampleErrors.Report(console, () => Merge(console, parsed.GetRequiredValue(shards).Select(d => d.FullName).ToArray(),
            parsed.GetRequiredValue(output).FullName, parsed.GetValue(truth)?.FullName, parsed.GetValue(truthMasks)?.FullName)));
        return command;
    }

    private static int Merge(IAnsiConsole console, string[] folders, string output, string? truth, string? truthMasks)
    {
        List<JournalImage> images = Check(folders, out ShardManifest run, out Dictionary<string, string> folderOf);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new IOException($"'{output}' is not empty; merge writes into a new or empty folder.");
        Directory.CreateDirectory(output);
        foreach (JournalImage image in images)
            foreach (string pictures in SegmentImagesApp.PictureFolders)
            {
                string target = Path.Combine(output, pictures, image.Name + ".png");
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(Path.Combine(folderOf[image.File], pictures, image.Name + ".png"), target);
            }
        int objects = ShardJournal.WriteResults(output, images, run.Options["category"]);
        console.WriteLine($"Merged {folders.Length} shards: {images.Count} images, {objects} objects into {output}.");

        var metrics = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (truth is not null)
        {
            string results = Path.Combine(output, ShardJournal.ResultsFile);
            foreach ((string key, CocoIouType type) in new[] { ("segm", CocoIouType.Segmentation), ("bbox", CocoIouType.BoundingBox) })
            {
                CocoMetrics coco = CocoEvaluation.Evaluate(truth, results, type, new CocoEvaluationOptions { ClassAgnostic = true });
                metrics[key] = coco.ToArray();
                console.WriteLine($"MaskCut, class-agnostic COCO {key} (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl) against {truth}:");
                console.WriteLine(coco.Summary());
            }
        }
        if (truthMasks is not null)
        {
            SemanticSegmentationMetrics segmentation = ForegroundMeanIou(output, images, truthMasks);
            metrics["mIoU"] = segmentation.MeanIntersectionOverUnion;
            metrics["foregroundIoU"] = segmentation.PerClassIntersectionOverUnion[1];
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CrateSegment against {truthMasks}: mIoU (background, foreground) {segmentation.MeanIntersectionOverUnion:F4}, foreground IoU {segmentation.PerClassIntersectionOverUnion[1]:F4}."));
        }
        if (metrics.Count > 0)
            AtomicFile.Write(Path.Combine(output, MetricsFile), stream => JsonSerializer.Serialize(stream, metrics,
                new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return 0;
    }

    /// <summary>Every shard's images, once each, after every check of the merge; <paramref name="folderOf"/> gives each image's shard folder.</summary>
    private static List<JournalImage> Check(string[] folders, out ShardManifest run, out Dictionary<string, string> folderOf)
    {
        var manifests = new List<(string Folder, ShardManifest Manifest)>();
        foreach (string folder in folders)
        {
            ShardManifest manifest = ShardManifest.Read(folder)
                ?? throw new InvalidDataException($"'{folder}' has no {ShardManifest.FileName}: it is not a shard's output folder.");
            if (manifests.Count > 0 && manifests[0].Manifest.Disagreement(manifest) is string other)
                throw new InvalidDataException($"'{folder}' is a shard of another run than '{manifests[0].Folder}': {other}.");
            if (manifests.FirstOrDefault(m => m.Manifest.ShardIndex == manifest.ShardIndex) is { Folder: not null } twin)
                throw new InvalidDataException($"'{twin.Folder}' and '{folder}' are both shard {manifest.ShardIndex} of {manifest.ShardCount}.");
            manifests.Add((folder, manifest));
        }
        run = manifests[0].Manifest;
        int[] missing = Enumerable.Range(0, run.ShardCount).Except(manifests.Select(m => m.Manifest.ShardIndex)).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"Shard{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)} of {run.ShardCount} missing: give every shard's folder.");

        var images = new List<JournalImage>();
        folderOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string folder, ShardManifest manifest) in manifests)
        {
            List<JournalImage> done = ShardJournal.Read(folder);
            if (!manifest.Complete)
                throw new InvalidDataException($"'{folder}' (shard {manifest.ShardIndex} of {manifest.ShardCount}) is incomplete: {done.Count} of its " +
                    $"{manifest.Images.Length} images done. Run its command again to finish it.");
            foreach (string file in manifest.Images)
                if (ShardPartition.ShardOf(SegmentImagesApp.NameOf(file), manifest.ShardCount) != manifest.ShardIndex)
                    throw new InvalidDataException($"'{folder}' (shard {manifest.ShardIndex}) lists image '{file}', which belongs to shard " +
                        $"{ShardPartition.ShardOf(SegmentImagesApp.NameOf(file), manifest.ShardCount)}.");
            var doneFiles = done.Select(d => d.File).ToHashSet(StringComparer.Ordinal);
            if (manifest.Images.FirstOrDefault(f => !doneFiles.Contains(f)) is string lost)
                throw new InvalidDataException($"'{folder}' is missing image '{lost}' of its shard: its journal has no record of it.");
            if (done.FirstOrDefault(d => !manifest.Images.Contains(d.File, StringComparer.Ordinal)) is JournalImage stray)
                throw new InvalidDataException($"'{folder}' has image '{stray.File}', which is not one of its shard's images.");
            foreach (JournalImage image in done)
            {
                if (folderOf.TryGetValue(image.File, out string? first))
                    throw new InvalidDataException($"Image '{image.File}' is in two shards: '{first}' and '{folder}'.");
                folderOf[image.File] = folder;
                images.Add(image);
            }
            CheckForeignFiles(folder, done);
        }
        if (images.Count != run.DatasetImages)
            throw new InvalidDataException($"The shards hold {images.Count} images of the dataset's {run.DatasetImages}: images are missing.");
        return images;
    }

    private static void CheckForeignFiles(string folder, List<JournalImage> done)
    {
        var expected = new HashSet<string>(RecordFiles, StringComparer.Ordinal);
        foreach (JournalImage image in done)
            foreach (string pictures in SegmentImagesApp.PictureFolders) expected.Add($"{pictures}/{image.Name}.png");
        foreach (string path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/');
            if (!expected.Contains(relative))
                throw new InvalidDataException($"'{folder}' holds '{relative}', which no shard writes (a foreign file): remove it, or give the right folder.");
        }
    }

    /// <summary>CrateSegment's masks (masks/, on the patch grid) against the truth label maps, as foreground (any class) and background.</summary>
    private static SemanticSegmentationMetrics ForegroundMeanIou(string output, IReadOnlyList<JournalImage> images, string truthMasks)
    {
        var rows = new List<MaskRow>();
        (int gridHeight, int gridWidth) = (0, 0);
        foreach (JournalImage image in images.OrderBy(i => i.File, StringComparer.Ordinal))
        {
            LabelMap predicted = PngLabelMap.Read(Path.Combine(output, SegmentImagesApp.MasksFolder, image.Name + ".png"));
            (gridHeight, gridWidth) = (predicted.Height, predicted.Width);
            string truthPath = Path.Combine(truthMasks, image.Name + ".png");
            if (!File.Exists(truthPath)) throw new FileNotFoundException($"The truth masks have no '{truthPath}' for image '{image.File}'.", truthPath);
            LabelMap truth = PngLabelMap.Read(truthPath);
            if ((truth.Height, truth.Width) != (image.Height, image.Width))
                throw new InvalidDataException($"'{truthPath}' is {truth.Width}×{truth.Height}, its image '{image.File}' {image.Width}×{image.Height}.");
            rows.Add(new MaskRow
            {
                Name = image.Name, Height = truth.Height, Width = truth.Width, PredictedMask = predicted.Values,
                Mask = Array.ConvertAll(truth.Values, c => c == Void ? Void : c == 0 ? (byte)0 : (byte)1),
            });
        }
        var context = new MLContext(seed: 0);
        SchemaDefinition schema = SchemaDefinition.Create(typeof(MaskRow));
        // The grid's shape, so that each truth pixel reads the cell under its centre.
        schema[nameof(MaskRow.PredictedMask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, gridHeight, gridWidth);
        return context.MulticlassClassification.EvaluateSegmentation(context.Data.LoadFromEnumerable(rows, schema), classCount: 2);
    }

    private const byte Void = 255;

    private sealed class MaskRow
    {
        public string Name { get; set; } = "";

        public int Height { get; set; }

        public int Width { get; set; }

        public byte[] Mask { get; set; } = [];

        public byte[] PredictedMask { get; set; } = [];
    }
}
