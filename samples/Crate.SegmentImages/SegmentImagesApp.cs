using System.CommandLine;
using System.Globalization;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Visualization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Spectre.Console;

namespace Crate.Samples.SegmentImages;

/// <summary>
/// A folder of images and a CRATE (a Crate.MLNet model file, a saved pipeline, or an authors' checkpoint) → for each
/// image, its [CLS] attention heat maps (eq. 10), its CrateSegment mask (Appendix B.3) and its MaskCut objects with
/// boxes (Appendix B.4) as PNGs, and all objects as a COCO results file with the COCO image list they refer to.
/// </summary>
public static class SegmentImagesApp
{
    /// <summary>Runs the sample on command-line <paramref name="args"/>, writing to <paramref name="console"/>; returns the exit code.</summary>
    public static int Run(string[] args, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var images = new Option<DirectoryInfo>("--images")
        {
            Description = "Folder of images to segment, subfolders included (jpg, jpeg, png, bmp, gif, webp). " +
                "Default: embedded test images, written to <output>/embedded-images.",
        }.AcceptExistingOnly();
        var model = new Option<FileInfo>("--model")
        {
            Description = "The network: a Crate.MLNet model file (.safetensors), a saved pipeline (.zip) or an authors' checkpoint " +
                "(.pth, needs --heads); the format is read from the content. Default: train a small CRATE on the embedded dataset.",
        }.AcceptExistingOnly();
        var heads = new Option<int?>("--heads") { Description = "Heads of an authors' checkpoint (not recorded in it): 6 for CRATE-T, 12 for S and B, 16 for L." };
        var imageIds = new Option<FileInfo>("--image-ids")
        {
            Description = "A COCO JSON file whose images' file_name (relative to --images) give the image ids of the results. " +
                "Default: the numbers the file names are (COCO's 000000397133.jpg is 397133) when every name is one, plus 1 when they count " +
                "from 0 (COCO's ids start at 1), else 1…n in name order.",
        }.AcceptExistingOnly();
        var output = new Option<DirectoryInfo>("--output")
        {
            Description = "Where the pictures (attention/, segment/, maskcut/), maskcut-results.json and images.json go.",
            DefaultValueFactory = _ => new DirectoryInfo("crate-segment-output"),
        };
        var size = new Option<int?>("--size")
        {
            Description = "Network input side in pixels (a multiple of the patch size; positions are interpolated). " +
                $"Default: the model's training size, enlarged to at least {MinimumGrid}×{MinimumGrid} patches (a coarser grid cuts slivers, " +
                "not objects; a model of patch 8 trained at 32×32 reads 96×96). The paper's MaskCut reads 480×480.",
        };
        var layer = new Option<int?>("--layer") { Description = "Layer (0-based) of the attention maps and CrateSegment. Default: the penultimate, as the paper's figures." };
        var objects = new Option<int>("--objects") { Description = "Most objects MaskCut cuts out of an image.", DefaultValueFactory = _ => 3 };
        var fraction = new Option<double>("--fraction") { Description = "Share of each head's attention CrateSegment keeps (top-P).", DefaultValueFactory = _ => 0.6 };
        var device = new Option<ComputeDevice>("--device") { Description = "Where the network runs.", DefaultValueFactory = _ => ComputeDevice.Auto };
        var count = new Option<int>("--count") { Description = "Embedded images to segment when --images is not given.", DefaultValueFactory = _ => 12 };
        var trainImages = new Option<int>("--train-images") { Description = "Embedded training images of the default model.", DefaultValueFactory = _ => 3000 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs of the default model.", DefaultValueFactory = _ => 12 };
        var shardIndex = new Option<int>("--shard-index")
        {
            Description = "Segment only shard i (0-based) of --shard-count: the images whose name's FNV-1a hash mod N is i (docs/scaling.md). " +
                "A Kubernetes Indexed Job passes its completion index, a Slurm array its task id.",
            DefaultValueFactory = _ => 0,
        };
        var shardCount = new Option<int>("--shard-count") { Description = "Shards the folder is split into (needs --model and --images); `merge` joins their outputs.", DefaultValueFactory = _ => 1 };
        var stopAfter = new Option<int?>("--stop-after")
        {
            Description = "Stop after this many images not done before, with exit code 75; the same command resumes (for a time-limited batch slot).",
        };
        var command = new RootCommand(
            "Segment your own images with a CRATE: attention heat maps, CrateSegment masks, MaskCut objects with boxes, and a COCO results file.")
        {
            images, model, heads, imageIds, output, size, layer, objects, fraction, device, count, trainImages, epochs, shardIndex, shardCount, stopAfter,
            ShardMerge.Command(console),
        };
        command.SetAction(parsed => SampleErrors.Report(console, () => Segment(console, new Settings(
            parsed.GetValue(images), parsed.GetValue(model), parsed.GetValue(heads), parsed.GetValue(imageIds), parsed.GetRequiredValue(output),
            parsed.GetValue(size), parsed.GetValue(layer), parsed.GetValue(objects), parsed.GetValue(fraction), parsed.GetValue(device),
            parsed.GetValue(count), parsed.GetValue(trainImages), parsed.GetValue(epochs),
            parsed.GetValue(shardIndex), parsed.GetValue(shardCount), parsed.GetValue(stopAfter)))));
        return command.Parse(args).Invoke(new InvocationConfiguration { Output = console.Profile.Out.Writer, Error = console.Profile.Out.Writer });
    }

    private sealed record Settings(DirectoryInfo? Images, FileInfo? Model, int? Heads, FileInfo? ImageIds, DirectoryInfo Output, int? Size,
        int? Layer, int Objects, double Fraction, ComputeDevice Device, int Count, int TrainImages, int Epochs, int ShardIndex, int ShardCount, int? StopAfter);

    /// <summary>A row of the read-outs: MaskCut's columns, the image's name and path, its maps and its mask.</summary>
    private sealed class SegmentedImage : MaskCutPrediction
    {
        public string Name { get; set; } = "";

        public string ImagePath { get; set; } = "";

        public float[] Attention { get; set; } = [];

        [ColumnName("PredictedMask")]
        public bool[] Mask { get; set; } = [];
    }

    /// <summary>The column the filter of images not yet done reads.</summary>
    private sealed class NamedRow
    {
        public string Name { get; set; } = "";
    }

    /// <summary>Exit code of a run stopped by --stop-after before its shard was complete (sysexits' EX_TEMPFAIL: run it again).</summary>
    public const int StoppedEarly = 75;

    private static int Segment(IAnsiConsole console, Settings settings)
    {
        var shard = new ShardPartition(settings.ShardIndex, settings.ShardCount);
        if (shard.Count > 1 && (settings.Model is null || settings.Images is null))
            throw new ArgumentException("--shard-count needs --model and --images: every shard must read the same network and the same folder.");
        if (settings.StopAfter is < 1) throw new ArgumentException($"--stop-after takes a positive number of images, not {settings.StopAfter}.");
        var context = new MLContext(seed: 0);
        ConsoleTraining.ShowLog(context, console);
        string output = settings.Output.FullName;
        Directory.CreateDirectory(output);
        // Without --model the network is trained afresh, without --images the images are written afresh: nothing of
        // an earlier run is theirs to resume.
        if (settings.Model is null || settings.Images is null)
            foreach (string record in new[] { ShardManifest.FileName, ShardJournal.FileName }) File.Delete(Path.Combine(output, record));

        string modelPath = settings.Model?.FullName ?? TrainEmbeddedModel(context, console, settings, output);
        CrateNetworkFileFormat format = CrateNetworkFile.DetectFormat(modelPath);
        // One copy of the network serves the three read-outs (a file source would load one per read-out).
        using CrateModel network = CrateNetworkFile.Load(modelPath, settings.Heads is int k ? new CheckpointImportOptions { Heads = k } : null);
        CrateArchitecture a = network.Architecture;
        console.MarkupLineInterpolated(
            $"Model: {format} [blue]{modelPath}[/] ({a.Variant}, d {a.EmbeddingDim}, {a.Depth} layers of {a.Heads} heads, patch {a.PatchSize}, trained at {a.ImageHeight}×{a.ImageWidth}).");
        (int inputHeight, int inputWidth) = InputSize(console, a, settings.Size);

        string imageFolder = settings.Images?.FullName ?? WriteEmbeddedImages(console, settings.Count, output);
        // The whole folder's listing, whichever the shard: the ids (1…n in name order) and the dataset's hash need it.
        string[] files = context.Data.LoadImageFolder(imageFolder).GetColumn<ReadOnlyMemory<char>>("ImagePath")
            .Select(p => Path.GetRelativePath(imageFolder, p.ToString()).Replace(Path.DirectorySeparatorChar, '/')).ToArray();
        Dictionary<string, long> ids = AssignImageIds(files, settings.ImageIds, out string idRule);
        console.WriteLine($"{files.Length} images in {imageFolder}; COCO image ids: {idRule}.");

        var maskCutOptions = new CrateMaskCutOptions
        {
            Cut = new MaskCutOptions { MaxObjects = settings.Objects }, ImageHeight = inputHeight, ImageWidth = inputWidth, Device = settings.Device,
        };
        var manifest = new ShardManifest
        {
            CodeVersion = ShardManifest.ThisCodeVersion,
            ModelSha256 = ShardManifest.Sha256OfFile(modelPath),
            Options = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["--heads"] = settings.Heads?.ToString(CultureInfo.InvariantCulture) ?? "default",
                ["--size"] = settings.Size?.ToString(CultureInfo.InvariantCulture) ?? "default",
                ["--layer"] = settings.Layer?.ToString(CultureInfo.InvariantCulture) ?? "default",
                ["--objects"] = settings.Objects.ToString(CultureInfo.InvariantCulture),
                ["--fraction"] = settings.Fraction.ToString("R", CultureInfo.InvariantCulture),
                ["category"] = maskCutOptions.CategoryName,
            },
            ShardIndex = shard.Index,
            ShardCount = shard.Count,
            DatasetImages = files.Length,
            DatasetSha256 = ShardManifest.Sha256OfDataset(files.Select(f => (f, ids[f]))),
            Images = files.Where(f => shard.Contains(NameOf(f))).ToArray(),
        };
        if (ShardManifest.Read(output) is ShardManifest earlier
            && (earlier.Disagreement(manifest) ?? (earlier.ShardIndex == shard.Index ? null : $"shard index {earlier.ShardIndex} vs {shard.Index}")) is string other)
            throw new InvalidDataException($"'{output}' holds the outputs of another run ({other}): give another --output, or delete it to start over.");
        AtomicFile.DeletePartials(output);
        using ShardJournal journal = ShardJournal.Open(output, out List<JournalImage> done);
        manifest.Write(output);
        var doneFiles = done.Select(d => d.File).ToHashSet(StringComparer.Ordinal);
        var todo = manifest.Images.Where(f => !doneFiles.Contains(f)).ToDictionary(NameOf, f => f, StringComparer.Ordinal);
        if (shard.Count > 1) console.WriteLine($"Shard {shard.Index} of {shard.Count}: {manifest.Images.Length} of the {files.Length} images.");
        if (done.Count > 0) console.WriteLine($"Resuming: {done.Count} images done by an earlier run (journal.jsonl), {todo.Count} to go.");

        // Only this shard's images not done yet: the shard is a reader option, the rest a filter on names.
        IDataView images = context.Data.FilterByCustomPredicate<NamedRow>(
            context.Data.LoadImageFolder(imageFolder, new ImageFolderOptions { Shard = shard }), row => !todo.ContainsKey(row.Name));
        using TransformerChain<CrateMaskCutTransformer> readouts = context.Transforms.CrateAttention(network, new CrateAttentionOptions
            {
                Layers = settings.Layer is int l ? [l] : null, ImageHeight = inputHeight, ImageWidth = inputWidth, Device = settings.Device,
            })
            .Append(context.Transforms.CrateSegment(network, new CrateSegmentOptions
            {
                Layer = settings.Layer, Fraction = settings.Fraction, HeadMasksColumnName = null,
                ImageHeight = inputHeight, ImageWidth = inputWidth, Device = settings.Device,
            }))
            .Append(context.Transforms.CrateMaskCut(network, maskCutOptions))
            .Fit(images);
        CrateAttentionTransformer attention = readouts.OfType<CrateAttentionTransformer>().Single();
        int headCount = attention.Heads.Count, gridHeight = attention.GridHeight, gridWidth = attention.GridWidth;

        var summary = new Table().AddColumns("image", "id", "size", "objects", "scores");
        int segmented = 0;
        if (todo.Count > 0)
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(progress =>
                {
                    ProgressTask task = progress.AddTask("Segmenting", maxValue: todo.Count);
                    foreach (SegmentedImage row in context.Data.CreateEnumerable<SegmentedImage>(readouts.Transform(images), reuseRowObject: false))
                    {
                        if (segmented == settings.StopAfter) break;
                        string file = todo[row.Name];
                        long id = ids[file];
                        using MLImage picture = MLImage.CreateFromFile(row.ImagePath);
                        ImagePixels pixels = ImageColumn.FromImage(picture, "Image", segmented);
                        // Small images (the embedded ones are 32×32) are drawn enlarged, each pixel a block, to be seen.
                        int scale = Math.Max(1, 256 / Math.Max(pixels.Height, pixels.Width));
                        Save(SegmentationPictures.HeadGrid(pixels, row.Attention, headCount, gridHeight, gridWidth, columns: Math.Min(headCount, 4), scale: scale),
                            output, "attention", row.Name);
                        Save(SegmentationPictures.MaskOverlay(pixels, row.Mask, gridHeight, gridWidth, scale: scale), output, "segment", row.Name);
                        AtomicFile.Write(Path.Combine(output, MasksFolder, row.Name + ".png"), stream => PngLabelMap.Write(stream,
                            new LabelMap(gridHeight, gridWidth, Array.ConvertAll(row.Mask, m => m ? (byte)1 : (byte)0))));
                        IReadOnlyList<MaskCutDetection> found = row.Objects();
                        Save(SegmentationPictures.MasksWithBoxes(pixels, found.Select(o => o.Mask.Cells.ToArray()).ToList(),
                            found.Select(o => ((int)o.X0, (int)o.Y0, (int)(o.X1 - o.X0) + 1, (int)(o.Y1 - o.Y0) + 1)).ToList(), scale: scale), output, "maskcut", row.Name);
                        // The journal's line comes last: an image is done once its pictures are all in place.
                        var image = new JournalImage(file, row.Name, id, pixels.Width, pixels.Height,
                            found.Select(o => new JournalObject(o.Score, RleMask.FromPixels(o.Mask).ToCompressedString())).ToArray());
                        journal.Append(image);
                        if (segmented < SummaryRows)
                            summary.AddRow(Markup.Escape(file), id.ToString(CultureInfo.InvariantCulture), $"{pixels.Width}×{pixels.Height}",
                                found.Count.ToString(CultureInfo.InvariantCulture), string.Join(" ", found.Select(o => o.Score.ToString("F2", CultureInfo.InvariantCulture))));
                        task.Increment(1);
                        segmented++;
                    }
                });
        if (segmented > 0) console.Write(summary);
        if (segmented > SummaryRows) console.WriteLine($"… and {segmented - SummaryRows} more images.");
        int doneCount = done.Count + segmented;
        if (doneCount < manifest.Images.Length)
        {
            console.WriteLine($"Stopped after {segmented} images (--stop-after): {doneCount} of the shard's {manifest.Images.Length} are done. " +
                "Run the same command again to go on.");
            return StoppedEarly;
        }

        // The image list the results refer to, in COCO's format: results and list load together in pycocotools or
        // CocoResultsFile.Read, and the list is what --image-ids takes back. Both are made from the journal, as a merge makes them:
        // the pass itself keeps no record of the images it did, so its memory stays flat however long the shard.
        journal.Dispose(); // closed before it is read back (a second handle on an open file is refused on Windows)
        int objectCount = ShardJournal.WriteResults(output, ShardJournal.Read(output), maskCutOptions.CategoryName);
        (manifest with { Complete = true }).Write(output);
        console.WriteLine($"Pictures: {Path.Combine(output, "attention")} (every head of layer {attention.Layers[0]}), {Path.Combine(output, "segment")} " +
            $"(CrateSegment), {Path.Combine(output, MasksFolder)} (CrateSegment's masks on the {gridHeight}×{gridWidth} patch grid, PNG label maps of 0 and 1), " +
            $"{Path.Combine(output, "maskcut")} (MaskCut objects and boxes).");
        console.WriteLine($"COCO results: {Path.Combine(output, ShardJournal.ResultsFile)} ({objectCount} objects, class-agnostic category 1), " +
            $"for the images of {Path.Combine(output, ShardJournal.ImagesFile)}.");
        return 0;
    }

    /// <summary>The smallest patch grid MaskCut is given by default: at the Quickstart model's own 4×4 it returns slivers of
    /// 11-86 pixels with scores near 0.5; at 12×12 (96×96 for patch 8) it cuts the shapes out (measured, issue 18).</summary>
    private const int MinimumGrid = 12;

    /// <summary>
    /// The network's input size: <paramref name="size"/> when given (with a warning when its grid is below
    /// <see cref="MinimumGrid"/>), else the training size, each side enlarged to at least <see cref="MinimumGrid"/> patches.
    /// </summary>
    private static (int Height, int Width) InputSize(IAnsiConsole console, CrateArchitecture a, int? size)
    {
        int patch = a.PatchSize;
        if (size is int side)
        {
            if (side / patch < MinimumGrid)
                console.MarkupLineInterpolated(
                    $"[yellow]Warning:[/] --size {side} gives a {side / patch}×{side / patch} patch grid; below {MinimumGrid}×{MinimumGrid} MaskCut tends to cut slivers, not objects. Try --size {MinimumGrid * patch} or more.");
            return (side, side);
        }
        int height = Math.Max(a.ImageHeight, MinimumGrid * patch), width = Math.Max(a.ImageWidth, MinimumGrid * patch);
        if ((height, width) != (a.ImageHeight, a.ImageWidth))
            console.WriteLine($"Input {height}×{width} (a {height / patch}×{width / patch} patch grid; the model's own {a.ImageHeight / patch}×{a.ImageWidth / patch} " +
                $"is too coarse for MaskCut, positions are interpolated). --size sets it.");
        return (height, width);
    }

    /// <summary>The folder of CrateSegment's masks as label maps.</summary>
    internal const string MasksFolder = "masks";

    /// <summary>The folders of per-image pictures, each image's named after it.</summary>
    internal static readonly string[] PictureFolders = ["attention", "segment", MasksFolder, "maskcut"];

    /// <summary>An image's name: its path relative to the folder without the extension (the image folder reader's Name column).</summary>
    internal static string NameOf(string file) => file[..^Path.GetExtension(file).Length];

    private static string TrainEmbeddedModel(MLContext context, IAnsiConsole console, Settings settings, string output)
    {
        // Small objects placed freely, as in the test of segmentation from classification: the grid of patch 4
        // (8×8) is fine enough to follow an outline, and a centred guess is not the answer.
        var data = new ShapesDatasetOptions { Count = settings.TrainImages, Seed = 1, Scale = EmbeddedScale };
        CrateTrainerOptions options = SmallCrate.Options(settings.Epochs, patchSize: 4, settings.Device);
        console.WriteLine($"No --model: training a small CRATE (patch 4) for {settings.Epochs} epoch(s) on {settings.TrainImages} embedded images " +
            $"of {string.Join(", ", ShapesDataset.ClassNames(data))}.");
        using TransformerChain<CrateClassifierTransformer> trained = ConsoleTraining.Train(console, "Training", options,
            () => context.Transforms.Conversion.MapValueToKey("Label")
                .Append(context.MulticlassClassification.Trainers.Crate(options))
                .Fit(ShapesDataset.LoadDataView(context, data)));
        string path = Path.Combine(output, "shapes-crate.safetensors");
        CrateModelFile.Save(trained.LastTransformer.Model, path);
        console.WriteLine($"Saved {path}: pass it as --model to skip the training next time.");
        return path;
    }

    private static readonly (double Low, double High) EmbeddedScale = (0.35, 0.55);

    // Rows of the closing table; the pictures and the results file have every image.
    private const int SummaryRows = 20;

    private static string WriteEmbeddedImages(IAnsiConsole console, int count, string output)
    {
        string root = Path.Combine(output, "embedded-images");
        // Written afresh each run, so no image of an earlier, longer run is left behind.
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        ShapesDataset.WriteFolder(new ShapesDatasetOptions { Count = count, Seed = 2, Scale = EmbeddedScale }, root);
        console.WriteLine($"No --images: {count} embedded test images written to {root} (true masks in its masks/ folder).");
        return Path.Combine(root, ShapesDataset.ImagesFolder);
    }

    /// <summary>The COCO image id of each file (path relative to the image folder, '/'-separated).</summary>
    private static Dictionary<string, long> AssignImageIds(string[] files, FileInfo? mapping, out string rule)
    {
        if (mapping is not null)
        {
            CocoDataset list = CocoDataset.Load(mapping.FullName);
            string? twice = list.Images.GroupBy(i => i.FileName, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
            if (twice is not null) throw new InvalidDataException($"'{mapping.FullName}' lists file_name '{twice}' for several images.");
            Dictionary<string, long> byName = list.Images.ToDictionary(i => i.FileName, i => i.Id, StringComparer.Ordinal);
            string? missing = files.FirstOrDefault(f => !byName.ContainsKey(f));
            if (missing is not null)
                throw new InvalidDataException($"'{mapping.FullName}' has no image with file_name '{missing}' (file names are relative to the image folder).");
            rule = $"from {mapping.FullName}";
            return files.ToDictionary(f => f, f => byName[f], StringComparer.Ordinal);
        }
        long?[] numbers = files.Select(f => long.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n : (long?)null).ToArray();
        if (numbers.All(n => n is not null) && numbers.Distinct().Count() == numbers.Length)
        {
            // COCO's ids start at 1: names that count from 0 (the embedded images') are shifted by one.
            long shift = numbers.Min() == 0 ? 1 : 0;
            rule = shift == 0 ? "the numbers the file names are" : "the numbers the file names are, plus 1 (COCO's ids start at 1)";
            return files.Zip(numbers).ToDictionary(p => p.First, p => p.Second!.Value + shift, StringComparer.Ordinal);
        }
        rule = "1…n in name order (see images.json)";
        return files.Select((f, i) => (f, i)).ToDictionary(p => p.f, p => (long)p.i + 1, StringComparer.Ordinal);
    }

    private static void Save(MLImage picture, string output, string folder, string name)
    {
        using (picture)
        {
            AtomicFile.WriteFile(Path.Combine(output, folder, name + ".png"), picture.Save);
        }
    }
}
