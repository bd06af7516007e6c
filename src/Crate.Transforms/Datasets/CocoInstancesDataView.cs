using Crate.Transforms.Evaluation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Datasets;

/// <summary>
/// A COCO instances dataset as an IDataView (<see cref="CocoInstancesColumns"/>): one row per image, its objects'
/// ids, categories, boxes, areas, crowd flags and masks. Nothing per image is held: a cursor decodes the image file,
/// and rasterises the masks, only when a row's column is read.
/// </summary>
public sealed class CocoInstancesDataView : IDataView
{
    private readonly string imageFolder;
    private readonly CocoImage[] images;
    private readonly Dictionary<long, int> annotationStart = [];
    private readonly CocoAnnotation[] annotationsByImage;

    internal CocoInstancesDataView(CocoDataset dataset, string imageFolder, CocoInstancesOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrEmpty(imageFolder);
        ArgumentNullException.ThrowIfNull(options);
        if (!Directory.Exists(imageFolder))
            throw new DirectoryNotFoundException($"COCO image folder '{imageFolder}' does not exist.");
        Dataset = dataset;
        this.imageFolder = Path.GetFullPath(imageFolder);

        // Checked now, not when a row is reached: a missing image is a setup error best seen before a long run.
        var kept = new List<CocoImage>();
        for (int i = 0; i < dataset.Images.Count; i++)
        {
            CocoImage image = dataset.Images[i];
            string record = $"images[{i}] (id {image.Id})";
            if (image.FileName.Length == 0)
                throw new CocoFormatException(dataset.FilePath, record, "no \"file_name\"; the reader needs one for every image.");
            string path = PathOf(image);
            if (File.Exists(path))
            {
                kept.Add(image);
                continue;
            }
            string problem = $"{(dataset.FilePath is null ? "" : dataset.FilePath + ": ")}{record}: image file '{path}' does not exist";
            if (!options.SkipMissingImages) throw new FileNotFoundException(problem + ".", path);
            SkippedImages++;
            options.Log?.Invoke($"skipped: {problem}.");
        }
        images = kept.ToArray();

        // Objects grouped by image, keeping file order within each image.
        annotationsByImage = dataset.Annotations.OrderBy(a => a.ImageId).ToArray(); // OrderBy is stable
        for (int n = annotationsByImage.Length - 1; n >= 0; n--) annotationStart[annotationsByImage[n].ImageId] = n;

        var builder = new DataViewSchema.Builder();
        builder.AddColumn(CocoInstancesColumns.ImageId, NumberDataViewType.Int64);
        builder.AddColumn(CocoInstancesColumns.ImagePath, TextDataViewType.Instance);
        builder.AddColumn(CocoInstancesColumns.Image, new ImageDataViewType());
        builder.AddColumn(CocoInstancesColumns.Height, NumberDataViewType.Int32);
        builder.AddColumn(CocoInstancesColumns.Width, NumberDataViewType.Int32);
        builder.AddColumn(CocoInstancesColumns.ObjectCount, NumberDataViewType.Int32);
        builder.AddColumn(CocoInstancesColumns.AnnotationIds, new VectorDataViewType(NumberDataViewType.Int64));
        builder.AddColumn(CocoInstancesColumns.CategoryIds, new VectorDataViewType(NumberDataViewType.Int64));
        builder.AddColumn(CocoInstancesColumns.CategoryNames, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(CocoInstancesColumns.Boxes, new VectorDataViewType(NumberDataViewType.Double));
        builder.AddColumn(CocoInstancesColumns.Areas, new VectorDataViewType(NumberDataViewType.Double));
        builder.AddColumn(CocoInstancesColumns.IsCrowd, new VectorDataViewType(BooleanDataViewType.Instance));
        builder.AddColumn(CocoInstancesColumns.Segmentations, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(CocoInstancesColumns.Masks, new VectorDataViewType(BooleanDataViewType.Instance));
        Schema = builder.ToSchema();
    }

    /// <summary>The annotation file's content, which is also the ground truth for <see cref="CocoEvaluation"/>.</summary>
    public CocoDataset Dataset { get; }

    /// <summary>Images left out because their file is missing (<see cref="CocoInstancesOptions.SkipMissingImages"/>).</summary>
    public int SkippedImages { get; }

    /// <inheritdoc />
    public bool CanShuffle => false;

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public long? GetRowCount() => images.Length;

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this, columnsNeeded);

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private string PathOf(CocoImage image) => Path.Combine(imageFolder, image.FileName);

    private ArraySegment<CocoAnnotation> ObjectsOf(CocoImage image)
    {
        if (!annotationStart.TryGetValue(image.Id, out int start)) return ArraySegment<CocoAnnotation>.Empty;
        int end = start;
        while (end < annotationsByImage.Length && annotationsByImage[end].ImageId == image.Id) end++;
        return new ArraySegment<CocoAnnotation>(annotationsByImage, start, end - start);
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly CocoInstancesDataView view;
        private readonly bool[] active;
        private long position = -1;
        private RleMask[]? masks;

        public Cursor(CocoInstancesDataView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            this.view = view;
            active = new bool[view.Schema.Count];
            foreach (DataViewSchema.Column column in columnsNeeded) active[column.Index] = true;
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => position;

        public override long Batch => 0;

        private CocoImage Image => view.images[position];

        private ArraySegment<CocoAnnotation> Objects => view.ObjectsOf(Image);

        public override bool MoveNext()
        {
            masks = null;
            if (position + 1 >= view.images.Length) return false;
            position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active[column.Index]) throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            Delegate getter = column.Name switch
            {
                CocoInstancesColumns.ImageId => (ValueGetter<long>)((ref long value) => value = Image.Id),
                CocoInstancesColumns.ImagePath => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = view.PathOf(Image).AsMemory()),
                CocoInstancesColumns.Image => (ValueGetter<MLImage>)((ref MLImage value) => value = Decode()),
                CocoInstancesColumns.Height => (ValueGetter<int>)((ref int value) => value = Image.Height),
                CocoInstancesColumns.Width => (ValueGetter<int>)((ref int value) => value = Image.Width),
                CocoInstancesColumns.ObjectCount => (ValueGetter<int>)((ref int value) => value = Objects.Count),
                CocoInstancesColumns.AnnotationIds => Vector(() => Objects.Select(a => a.Id).ToArray()),
                CocoInstancesColumns.CategoryIds => Vector(() => Objects.Select(a => a.CategoryId).ToArray()),
                CocoInstancesColumns.CategoryNames => Vector(() => Objects.Select(a => view.Dataset.FindCategory(a.CategoryId)!.Name.AsMemory()).ToArray()),
                CocoInstancesColumns.Boxes => Vector(() => Objects.SelectMany(a => new[] { a.Box.X, a.Box.Y, a.Box.Width, a.Box.Height }).ToArray()),
                CocoInstancesColumns.Areas => Vector(() => Objects.Select(a => a.Area).ToArray()),
                CocoInstancesColumns.IsCrowd => Vector(() => Objects.Select(a => a.IsCrowd).ToArray()),
                CocoInstancesColumns.Segmentations => Vector(() => Masks().Select(m => m.ToCompressedString().AsMemory()).ToArray()),
                _ => Vector(() => Masks().SelectMany(m => m.ToPixels().Cells.ToArray()).ToArray()),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        private static ValueGetter<VBuffer<T>> Vector<T>(Func<T[]> values) =>
            (ref VBuffer<T> value) =>
            {
                T[] array = values();
                value = new VBuffer<T>(array.Length, array);
            };

        /// <summary>The row's object masks at the image size, rasterised once per row.</summary>
        private RleMask[] Masks() => masks ??= Objects.Select(a =>
        {
            string record = $"annotation id {a.Id}";
            if (a.Segmentation is null)
                throw new CocoFormatException(view.Dataset.FilePath, record, "no \"segmentation\"; the Masks and Segmentations columns need one for every object.");
            return a.Segmentation.ToRle(Image.Height, Image.Width);
        }).ToArray();

        private MLImage Decode()
        {
            string path = view.PathOf(Image);
            MLImage image;
            try
            {
                image = MLImage.CreateFromFile(path);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidDataException($"Image id {Image.Id}: '{path}' could not be decoded as an image ({e.Message}).", e);
            }
            if (image.Width != Image.Width || image.Height != Image.Height)
            {
                int width = image.Width, height = image.Height;
                image.Dispose();
                throw new InvalidDataException(
                    $"Image id {Image.Id}: '{path}' is {width}×{height} pixels but the annotation file says {Image.Width}×{Image.Height}; its masks would not fit it.");
            }
            return image;
        }
    }
}
