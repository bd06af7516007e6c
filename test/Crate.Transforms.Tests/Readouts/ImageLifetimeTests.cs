using Crate.Transforms.Segmentation;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Transforms.Tests.Readouts;

/// <summary>
/// Issue 9, item 5: the getters give each decoded image back to its producer, which disposes it (ML.NET's image
/// getters dispose the image they are handed before making the next), and never dispose an image they do not own.
/// </summary>
[TestClass]
public sealed class ImageLifetimeTests
{
    [TestMethod]
    public void EveryImageButTheLastGoesBackToItsProducerToBeDisposed()
    {
        var context = new MLContext(seed: 1);
        var images = new ProducedImages(5);
        using var model = FixtureImages.Import();
        using CrateAttentionTransformer fitted = context.Transforms.CrateAttention(model,
            new CrateAttentionOptions { Device = ComputeDevice.Cpu, BatchSize = 2 }).Fit(images);
        Assert.HasCount(5, fitted.Transform(images).GetColumn<float[]>("Attention").ToArray());
        Assert.HasCount(5, images.Made);
        CollectionAssert.AreEqual(images.Made.Take(4).ToArray(), images.HandedBack.ToArray(), "each image came back, in order, before the next was made");
        Assert.IsTrue(images.Made.Take(4).All(i => i.Disposed));
    }

    public sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    [TestMethod]
    public void LoadImagesDisposesTheImageItIsHandedBack()
    {
        // The protocol the readers rely on, checked against ML.NET itself: it fails if LoadImages stops disposing.
        string folder = Directory.CreateTempSubdirectory("crate-lifetime-").FullName;
        try
        {
            for (int f = 0; f < 2; f++)
            {
                using MLImage image = MLImage.CreateFromPixels(8, 8, MLPixelFormat.Rgba32, new byte[8 * 8 * 4]);
                image.Save(Path.Combine(folder, $"{f}.png"));
            }
            var context = new MLContext(seed: 1);
            IDataView paths = context.Data.LoadFromEnumerable(new[] { new PathRow { Path = "0.png" }, new PathRow { Path = "1.png" } });
            IDataView loaded = context.Transforms.LoadImages("Image", folder, "Path").Fit(paths).Transform(paths);
            using DataViewRowCursor cursor = loaded.GetRowCursor(loaded.Schema);
            ValueGetter<MLImage> get = cursor.GetGetter<MLImage>(loaded.Schema["Image"]);
            MLImage current = null!;
            Assert.IsTrue(cursor.MoveNext());
            get(ref current);
            var first = new TrackedImage(current);
            Assert.IsFalse(first.Disposed);
            Assert.IsTrue(cursor.MoveNext());
            get(ref current);
            Assert.IsTrue(first.Disposed, "LoadImages disposed the image handed back to it");
            Assert.IsFalse(new TrackedImage(current).Disposed);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ImagesOfAnEnumerableAreNotDisposed()
    {
        var context = new MLContext(seed: 1);
        ImageRow[] rows = Enumerable.Range(0, 3).Select(_ => new ImageRow { Image = MLImage.CreateFromPixels(32, 32, MLPixelFormat.Rgba32, new byte[32 * 32 * 4]) }).ToArray();
        IDataView data = context.Data.LoadFromEnumerable(rows);
        using var model = FixtureImages.Import();
        using CrateAttentionTransformer fitted = context.Transforms.CrateAttention(model, new CrateAttentionOptions { Device = ComputeDevice.Cpu }).Fit(data);
        Assert.HasCount(3, fitted.Transform(data).GetColumn<float[]>("Attention").ToArray());
        foreach (ImageRow row in rows) Assert.AreEqual(32, row.Image!.Pixels.Length / 128, "the caller's images stay usable");
    }

    public sealed class ImageRow
    {
        [ImageType(32, 32)]
        public MLImage? Image { get; set; }
    }

    private sealed class TrackedImage(MLImage image)
    {
        public MLImage Image { get; } = image;

        public bool Disposed
        {
            get
            {
                try
                {
                    _ = Image.Pixels;
                    return false;
                }
                catch (InvalidOperationException)
                {
                    return true;
                }
            }
        }
    }

    /// <summary>An image column whose getter behaves as LoadImages': it disposes the image it is handed, then makes the next.</summary>
    private sealed class ProducedImages(int count) : IDataView
    {
        public int Count { get; } = count;

        public List<TrackedImage> Made { get; } = [];

        public List<TrackedImage> HandedBack { get; } = [];

        public DataViewSchema Schema { get; } = MakeSchema();

        private static DataViewSchema MakeSchema()
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumn("Image", new ImageDataViewType(32, 32));
            return builder.ToSchema();
        }

        public bool CanShuffle => false;

        public long? GetRowCount() => Count;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

        private sealed class Cursor(ProducedImages owner) : DataViewRowCursor
        {
            private long position = -1;

            public override DataViewSchema Schema => owner.Schema;

            public override long Position => position;

            public override long Batch => 0;

            public override bool MoveNext() => ++position < owner.Count;

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

            public override bool IsColumnActive(DataViewSchema.Column column) => true;

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
                (ValueGetter<TValue>)(Delegate)(ValueGetter<MLImage>)((ref MLImage image) =>
                {
                    // Only the reading cursor of the transform decodes images: count what it hands back.
                    if (image is not null)
                    {
                        MLImage handed = image;
                        owner.HandedBack.Add(owner.Made.Single(m => ReferenceEquals(m.Image, handed)));
                        image.Dispose();
                    }
                    var pixels = new byte[32 * 32 * 4];
                    for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(position * 40 + i % 7);
                    image = MLImage.CreateFromPixels(32, 32, MLPixelFormat.Rgba32, pixels);
                    owner.Made.Add(new TrackedImage(image));
                });
        }
    }
}
