using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>
/// A COCO instances dataset (annotations/instances_*.json and its image folder) as a lazy IDataView
/// (<see cref="DatasetCatalog.LoadCocoInstances(DataOperationsCatalog, string, string, CocoInstancesOptions?)"/>): one
/// row per image, in the file's order, images without objects included; the per-object vectors list the image's
/// objects in file order.
/// </summary>
/// <remarks>
/// The annotation file is read and checked when the view is made, and every image file must exist then; an image is
/// decoded, and its masks rasterised, only when a row's column asks for it.
/// </remarks>
public static class CocoInstances
{
    /// <summary>Int64: the image's COCO id.</summary>
    public const string ImageId = "ImageId";

    /// <summary>Text: the image file's full path.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary>Image (MLImage, as <c>LoadImages</c> makes): the decoded file, checked against the record's size.</summary>
    public const string Image = "Image";

    /// <summary>Int32: the image's height in pixels, from the annotation file.</summary>
    public const string Height = "Height";

    /// <summary>Int32: the image's width in pixels, from the annotation file.</summary>
    public const string Width = "Width";

    /// <summary>Int32: n, the number of objects.</summary>
    public const string ObjectCount = "ObjectCount";

    /// <summary>Vector of Int64, n: the objects' annotation ids.</summary>
    public const string AnnotationIds = "AnnotationIds";

    /// <summary>Vector of Int64, n: the objects' category ids.</summary>
    public const string CategoryIds = "CategoryIds";

    /// <summary>Vector of Text, n: the objects' category names.</summary>
    public const string CategoryNames = "CategoryNames";

    /// <summary>Vector of Double, 4n: each object's box x, y, width, height in pixels, as the file gives it (COCO's
    /// order, not ML.NET object detection's left, top, right, bottom).</summary>
    public const string Boxes = "Boxes";

    /// <summary>Vector of Double, n: each object's area as the file gives it (what COCO's area ranges use).</summary>
    public const string Areas = "Areas";

    /// <summary>Vector of Boolean, n: whether each object is a crowd region.</summary>
    public const string IsCrowd = "IsCrowd";

    /// <summary>Vector of Text, n: each object's mask as a compressed COCO RLE string at the image's size (polygons
    /// rasterised as pycocotools does); <c>RleMask.FromCompressedString(s, Height, Width)</c> reads one back.</summary>
    public const string Segmentations = "Segmentations";

    /// <summary>Vector of Boolean, n·Height·Width: each object's mask, row-major, one after another.</summary>
    public const string Masks = "Masks";

    private const string ReaderName = "COCO reader";

    internal static IDataView Load(IHostEnvironment environment, CocoDataset dataset, string imageFolder, CocoInstancesOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrEmpty(imageFolder);
        ArgumentNullException.ThrowIfNull(options);
        string folder = Path.GetFullPath(imageFolder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The COCO image folder '{folder}' does not exist.");

        ILookup<long, CocoAnnotation> objects = dataset.Annotations.ToLookup(a => a.ImageId);
        var records = new List<CocoRecord>();
        for (int i = 0; i < dataset.Images.Count; i++)
        {
            CocoImage image = dataset.Images[i];
            string record = $"images[{i}] (id {image.Id})";
            if (image.FileName.Length == 0)
                throw new CocoFormatException(dataset.FilePath, record, "no \"file_name\"; the reader needs one for every image.");
            string path = Path.Combine(folder, image.FileName);
            if (File.Exists(path))
            {
                records.Add(new CocoRecord(image, path, objects[image.Id].ToArray()));
                continue;
            }
            string problem = $"{(dataset.FilePath is null ? "" : dataset.FilePath + ": ")}{record}: the image file '{path}' does not exist.";
            if (!options.SkipInvalidRecords) throw new FileNotFoundException(problem, path);
            RecordDataView<CocoRecord, CocoRow>.Warn(environment, ReaderName, problem + " Skipped, as the reader's options ask.");
        }

        RecordColumn<CocoRow>[] columns =
        [
            RecordColumn<CocoRow>.Scalar(ImageId, NumberDataViewType.Int64, row => row.Record.Image.Id),
            RecordColumn<CocoRow>.Scalar(ImagePath, TextDataViewType.Instance, row => row.Record.Path.AsMemory()),
            RecordColumn<CocoRow>.Scalar(Image, new ImageDataViewType(), row => row.Decode()),
            RecordColumn<CocoRow>.Scalar(Height, NumberDataViewType.Int32, row => row.Record.Image.Height),
            RecordColumn<CocoRow>.Scalar(Width, NumberDataViewType.Int32, row => row.Record.Image.Width),
            RecordColumn<CocoRow>.Scalar(ObjectCount, NumberDataViewType.Int32, row => row.Record.Objects.Length),
            RecordColumn<CocoRow>.Vector(AnnotationIds, new VectorDataViewType(NumberDataViewType.Int64), row => row.Record.Objects.Select(a => a.Id).ToArray()),
            RecordColumn<CocoRow>.Vector(CategoryIds, new VectorDataViewType(NumberDataViewType.Int64), row => row.Record.Objects.Select(a => a.CategoryId).ToArray()),
            RecordColumn<CocoRow>.Vector(CategoryNames, new VectorDataViewType(TextDataViewType.Instance),
                row => row.Record.Objects.Select(a => dataset.FindCategory(a.CategoryId)!.Name.AsMemory()).ToArray()),
            RecordColumn<CocoRow>.Vector(Boxes, new VectorDataViewType(NumberDataViewType.Double),
                row => row.Record.Objects.SelectMany(a => new[] { a.Box.X, a.Box.Y, a.Box.Width, a.Box.Height }).ToArray()),
            RecordColumn<CocoRow>.Vector(Areas, new VectorDataViewType(NumberDataViewType.Double), row => row.Record.Objects.Select(a => a.Area).ToArray()),
            RecordColumn<CocoRow>.Vector(IsCrowd, new VectorDataViewType(BooleanDataViewType.Instance), row => row.Record.Objects.Select(a => a.IsCrowd).ToArray()),
            RecordColumn<CocoRow>.Vector(Segmentations, new VectorDataViewType(TextDataViewType.Instance),
                row => row.Masks.Value.Select(m => m.ToCompressedString().AsMemory()).ToArray()),
            RecordColumn<CocoRow>.Vector(Masks, new VectorDataViewType(BooleanDataViewType.Instance),
                row => row.Masks.Value.SelectMany(m => m.ToPixels().Cells.ToArray()).ToArray()),
        ];
        return new RecordDataView<CocoRecord, CocoRow>(environment, ReaderName, records, columns, r => new CocoRow(r, dataset.FilePath, options.MaxPixels),
            r => $"image id {r.Image.Id}, {r.Image.FileName}", options.SkipInvalidRecords);
    }

    private sealed record CocoRecord(CocoImage Image, string Path, CocoAnnotation[] Objects);

    private sealed class CocoRow
    {
        private readonly long maxPixels;

        public CocoRow(CocoRecord record, string? annotationFile, long maxPixels)
        {
            Record = record;
            this.maxPixels = maxPixels;
            Masks = new Lazy<RleMask[]>(() => record.Objects.Select(a => a.Segmentation?.ToRle(record.Image.Height, record.Image.Width)
                ?? throw new CocoFormatException(annotationFile, $"annotation id {a.Id}",
                    "no \"segmentation\"; the Masks and Segmentations columns need one for every object.")).ToArray());
        }

        public CocoRecord Record { get; }

        /// <summary>The objects' masks at the image's size, rasterised once per row.</summary>
        public Lazy<RleMask[]> Masks { get; }

        public MLImage Decode()
        {
            MLImage image = ImageFiles.Decode(Record.Path, maxPixels);
            if (image.Width == Record.Image.Width && image.Height == Record.Image.Height) return image;
            (int width, int height) = (image.Width, image.Height);
            image.Dispose();
            throw new InvalidDataException($"the image '{Record.Path}' is {width}×{height} pixels but the annotation file says " +
                $"{Record.Image.Width}×{Record.Image.Height}; its masks would not fit it.");
        }
    }
}
