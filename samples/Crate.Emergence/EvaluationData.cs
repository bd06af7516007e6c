using Crate.Trainers.Data;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence;

/// <summary>
/// Images to measure on, with their truth in the columns the evaluators read: <c>Image</c>; <c>ClassMap</c> (per
/// pixel the class id, 0 background, <see cref="IgnoreLabel"/> void) for eq. 13–14; <c>Foreground</c> (1 on any
/// object, 0 elsewhere, void kept) for the merged mask; <c>Height</c> and <c>Width</c>; and the objects as COCO ground
/// truth for MaskCut, with each row's COCO image id.
/// </summary>
public sealed class EvaluationData
{
    /// <summary>The truth value of unlabelled pixels.</summary>
    public const byte IgnoreLabel = 255;

    private EvaluationData(string title, string description, IDataView view, int classCount, CocoDataset truth, IReadOnlyList<long> imageIds,
        IReadOnlyList<string> imageNames, IReadOnlyList<(string Name, long Id)>? dataset = null)
    {
        ImageNames = imageNames;
        Dataset = dataset ?? imageNames.Zip(imageIds).ToArray();
        Title = title;
        Description = description;
        View = view;
        ClassCount = classCount;
        Truth = truth;
        ImageIds = imageIds;
    }

    /// <summary>A short name ("Embedded scenes", "PASCAL VOC 2012 val", …).</summary>
    public string Title { get; }

    /// <summary>One line on what the images are.</summary>
    public string Description { get; }

    /// <summary>The rows, lazily read.</summary>
    public IDataView View { get; }

    /// <summary>Classes of <c>ClassMap</c>, background included.</summary>
    public int ClassCount { get; }

    /// <summary>The objects, for MaskCut's COCO evaluation.</summary>
    public CocoDataset Truth { get; }

    /// <summary>The COCO image id of each row, in row order.</summary>
    public IReadOnlyList<long> ImageIds { get; }

    /// <summary>The name of each row's image (its file name without extension, '/'-separated), in row order: the key of <see cref="ShardPartition"/>.</summary>
    public IReadOnlyList<string> ImageNames { get; }

    /// <summary>Every image of the dataset with its id, this shard's and the others' (the rows themselves when not sharded).</summary>
    public IReadOnlyList<(string Name, long Id)> Dataset { get; }

    /// <summary>The evaluation scenes of the embedded dataset (1–4 objects each), with their exact masks.</summary>
    public static EvaluationData Scenes(MLContext context, SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> names = SceneDataset.ClassNames(options);
        IDataView scenes = SceneDataset.LoadSceneDataView(context, options);
        (int height, int width) = (options.ImageHeight, options.ImageWidth);
        IDataView view = context.Transforms.CustomMapping<SceneTruth, SceneForeground>((scene, truth) =>
            {
                truth.Foreground = Array.ConvertAll(scene.InstanceMask, id => id == 0 ? (byte)0 : (byte)1);
                truth.Height = height;
                truth.Width = width;
            }, contractName: null)
            .Append(context.Transforms.CopyColumns("ClassMap", "ClassMask"))
            .Fit(scenes).Transform(scenes);
        CocoDataset truth = SceneCoco.GroundTruth(SceneDataset.GenerateScenes(options), names);
        return new EvaluationData("Embedded scenes",
            $"{options.Count} scenes of {height}×{width} pixels with {options.ObjectsPerScene.Min}–{options.ObjectsPerScene.Max} objects " +
            $"of {names.Count} classes ({string.Join(", ", names)}), each at least {options.MinVisibleFraction:P0} visible, " +
            $"{truth.Annotations.Count} objects in all; seed {options.Seed}",
            view, names.Count + 1, truth, Enumerable.Range(0, options.Count).Select(SceneCoco.ImageId).ToArray(),
            Enumerable.Range(0, options.Count).Select(i => SceneCoco.ImageId(i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    /// <summary>
    /// A PASCAL VOC 2012 split: <paramref name="root"/> is VOC2012 (or a VOCdevkit holding it). The classes are VOC's 21;
    /// the COCO truth of MaskCut is made from SegmentationObject's instances, with their classes. With
    /// <paramref name="shard"/>, only that shard's images (of the first <paramref name="maxImages"/>), under the whole split's ids.
    /// </summary>
    public static EvaluationData Voc(MLContext context, string root, string split, int? maxImages, ShardPartition? shard = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Directory.Exists(Path.Combine(root, "VOC2012"))) root = Path.Combine(root, "VOC2012");
        IDataView voc = context.Data.LoadVocSegmentation(root, split);
        if (maxImages is int most) voc = context.Data.TakeRows(voc, most);
        IDataView view = context.Transforms.CustomMapping<VocTruth, ForegroundOnly>((row, truth) =>
                truth.Foreground = Array.ConvertAll(row.Mask, c => c == IgnoreLabel ? IgnoreLabel : c == 0 ? (byte)0 : (byte)1), contractName: null)
            .Append(context.Transforms.CopyColumns("ClassMap", "Mask"))
            .Fit(voc).Transform(voc);

        // The instances as COCO ground truth, read without decoding a single JPEG (only the mask columns are asked for).
        var images = new List<CocoImage>();
        var annotations = new List<CocoAnnotation>();
        foreach (VocInstances row in context.Data.CreateEnumerable<VocInstances>(voc, reuseRowObject: false))
        {
            long imageId = images.Count + 1;
            images.Add(new CocoImage(imageId, row.Width, row.Height, row.Name + ".jpg"));
            int pixels = row.Height * row.Width;
            for (int k = 0; k < row.InstanceCount; k++)
                annotations.Add(CocoAnnotation.FromMask(annotations.Count + 1, imageId, row.InstanceClasses[k],
                    RleMask.FromPixels(row.InstanceMasks.AsSpan(k * pixels, pixels), row.Height, row.Width)));
        }
        if (images.Count == 0) throw new InvalidDataException($"The VOC split '{split}' under '{root}' has no images.");
        var dataset = images.Select(i => (Path.GetFileNameWithoutExtension(i.FileName), i.Id)).ToArray();
        if (shard is not null)
        {
            view = context.Data.FilterByCustomPredicate<NameOnly>(view, row => !shard.Contains(row.Name));
            images = images.Where(i => shard.Contains(Path.GetFileNameWithoutExtension(i.FileName))).ToList();
            var kept = images.Select(i => i.Id).ToHashSet();
            annotations = annotations.Where(a => kept.Contains(a.ImageId)).ToList();
        }
        var categories = VocSegmentation.ClassNames.Skip(1).Select((name, c) => new CocoCategory(c + 1, name)).ToList();
        return new EvaluationData($"PASCAL VOC 2012 {split}",
            $"{images.Count} images of {root} ({split}), 21 classes, {annotations.Count} objects from SegmentationObject",
            view, VocSegmentation.ClassNames.Count, new CocoDataset(images, annotations, categories), images.Select(i => i.Id).ToArray(),
            images.Select(i => Path.GetFileNameWithoutExtension(i.FileName)).ToArray(), dataset);
    }

    /// <summary>
    /// A COCO instances set: <paramref name="root"/> holds annotations/instances_&lt;split&gt;.json and the images in
    /// &lt;split&gt;/ (or images/). Semantic truth for eq. 13–14 is painted from the objects (categories in id order as
    /// classes 1…C, crowd regions void, later objects over earlier ones). With <paramref name="shard"/>, only that
    /// shard's images (of the first <paramref name="maxImages"/>), each named by its file_name without extension.
    /// </summary>
    public static EvaluationData Coco(MLContext context, string root, string? split, int? maxImages, ShardPartition? shard = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        string annotationsFolder = Path.Combine(root, "annotations");
        if (!Directory.Exists(annotationsFolder)) throw new DirectoryNotFoundException($"'{root}' has no annotations folder.");
        string[] files = split is null
            ? Directory.GetFiles(annotationsFolder, "instances_*.json")
            : [Path.Combine(annotationsFolder, $"instances_{split}.json")];
        if (files.Length != 1 || !File.Exists(files[0]))
            throw new FileNotFoundException(split is null
                ? $"'{annotationsFolder}' holds {files.Length} instances_*.json files; name the split with --coco-split."
                : $"'{files[0]}' does not exist.");
        split ??= Path.GetFileNameWithoutExtension(files[0])["instances_".Length..];
        string imageFolder = Directory.Exists(Path.Combine(root, split)) ? Path.Combine(root, split) : Path.Combine(root, "images");
        CocoDataset dataset = CocoDataset.Load(files[0]);
        if (maxImages is int most)
        {
            var kept = dataset.Images.Take(most).ToList();
            var ids = kept.Select(i => i.Id).ToHashSet();
            dataset = new CocoDataset(kept, dataset.Annotations.Where(a => ids.Contains(a.ImageId)).ToList(), dataset.Categories);
        }
        var whole = dataset.Images.Select(i => (CocoName(i), i.Id)).ToArray();
        if (shard is not null)
        {
            var kept = dataset.Images.Where(i => shard.Contains(CocoName(i))).ToList();
            var ids = kept.Select(i => i.Id).ToHashSet();
            dataset = new CocoDataset(kept, dataset.Annotations.Where(a => ids.Contains(a.ImageId)).ToList(), dataset.Categories);
        }
        if (dataset.Categories.Count >= IgnoreLabel) throw new InvalidDataException($"'{files[0]}' has {dataset.Categories.Count} categories; at most 254 fit a class map.");
        var classOf = dataset.Categories.Select(c => c.Id).Order().Select((id, c) => (id, c)).ToDictionary(p => p.id, p => (byte)(p.c + 1));
        IDataView coco = context.Data.LoadCocoInstances(dataset, imageFolder);
        IDataView view = context.Transforms.CustomMapping<CocoObjects, CocoTruth>((row, truth) =>
            {
                int pixels = row.Height * row.Width;
                var classes = new byte[pixels];
                var foreground = new byte[pixels];
                // Crowd regions first (void), then the objects over them in file order.
                foreach (bool crowdPass in new[] { true, false })
                    for (int k = 0; k < row.ObjectCount; k++)
                    {
                        if (row.IsCrowd[k] != crowdPass) continue;
                        byte value = crowdPass ? IgnoreLabel : classOf[row.CategoryIds[k]];
                        for (int p = 0; p < pixels; p++)
                            if (row.Masks[k * pixels + p])
                            {
                                classes[p] = value;
                                foreground[p] = crowdPass ? IgnoreLabel : (byte)1;
                            }
                    }
                truth.ClassMap = classes;
                truth.Foreground = foreground;
            }, contractName: null).Fit(coco).Transform(coco);
        return new EvaluationData($"COCO {split}",
            $"{dataset.Images.Count} images of {imageFolder}, {dataset.Categories.Count} categories, {dataset.Annotations.Count(a => !a.IsCrowd)} objects",
            view, dataset.Categories.Count + 1, dataset, dataset.Images.Select(i => i.Id).ToArray(), dataset.Images.Select(CocoName).ToArray(), whole);
    }

    private static string CocoName(CocoImage image) => Path.ChangeExtension(image.FileName, null).Replace('\\', '/');

    private sealed class NameOnly
    {
        public string Name { get; set; } = "";
    }

    private sealed class SceneTruth
    {
        public byte[] InstanceMask { get; set; } = [];
    }

    private sealed class SceneForeground
    {
        public byte[] Foreground { get; set; } = [];

        public int Height { get; set; }

        public int Width { get; set; }
    }

    private sealed class VocTruth
    {
        public byte[] Mask { get; set; } = [];
    }

    private sealed class ForegroundOnly
    {
        public byte[] Foreground { get; set; } = [];
    }

    private sealed class VocInstances
    {
        public string Name { get; set; } = "";

        public int Height { get; set; }

        public int Width { get; set; }

        public int InstanceCount { get; set; }

        public bool[] InstanceMasks { get; set; } = [];

        public int[] InstanceClasses { get; set; } = [];
    }

    private sealed class CocoObjects
    {
        public int Height { get; set; }

        public int Width { get; set; }

        public int ObjectCount { get; set; }

        public bool[] Masks { get; set; } = [];

        public long[] CategoryIds { get; set; } = [];

        public bool[] IsCrowd { get; set; } = [];
    }

    private sealed class CocoTruth
    {
        public byte[] ClassMap { get; set; } = [];

        public byte[] Foreground { get; set; } = [];
    }
}
