using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.Emergence;

/// <summary>A few images to draw read-outs of: as a view the read-outs run on (column "Image"), decoded, and captioned.</summary>
/// <param name="View">The rows (an MLImage column or a float vector [3, H, W] in [0, 1] named "Image").</param>
/// <param name="Images">The same images, decoded, in row order.</param>
/// <param name="Captions">One caption per image.</param>
public sealed record PictureSet(IDataView View, IReadOnlyList<ImagePixels> Images, IReadOnlyList<string> Captions)
{
    /// <summary>The first <paramref name="count"/> rows of <paramref name="view"/> (its "Image" column is an MLImage).</summary>
    public static PictureSet FirstOf(MLContext context, IDataView view, int count, Func<int, string> caption)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(caption);
        IDataView first = context.Data.TakeRows(view, count);
        var images = new List<ImagePixels>();
        using (DataViewRowCursor cursor = first.GetRowCursor([first.Schema["Image"]]))
        {
            ValueGetter<MLImage> getImage = cursor.GetGetter<MLImage>(first.Schema["Image"]);
            MLImage image = null!;
            while (cursor.MoveNext())
            {
                getImage(ref image);
                images.Add(ImageColumn.FromImage(image, "Image", cursor.Position));
            }
        }
        return new PictureSet(first, images, Enumerable.Range(0, images.Count).Select(caption).ToArray());
    }

    /// <summary>Decoded images of one size as a view of float vectors [3, H, W].</summary>
    public static PictureSet FromPixels(MLContext context, IReadOnlyList<ImagePixels> images, IReadOnlyList<string> captions)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0 || images.Any(i => i.Height != images[0].Height || i.Width != images[0].Width))
            throw new ArgumentException("A picture set needs at least one image, all of one size.", nameof(images));
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[nameof(PixelRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, images[0].Height, images[0].Width);
        IDataView view = context.Data.LoadFromEnumerable(images.Select(i => new PixelRow { Image = i.Pixels }).ToArray(), definition);
        return new PictureSet(view, images, captions);
    }

    private sealed class PixelRow
    {
        public float[] Image { get; set; } = [];
    }
}
