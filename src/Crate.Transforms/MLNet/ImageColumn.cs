using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using static TorchSharp.torch;

namespace Crate.Transforms.MLNet;

/// <summary>One image as read from a row: RGB pixels in [0, 1], channel-first [3, H, W].</summary>
/// <param name="Height">Rows of pixels.</param>
/// <param name="Width">Columns of pixels.</param>
/// <param name="Pixels">3·H·W floats, channel-first.</param>
public sealed record ImagePixels(int Height, int Width, float[] Pixels);

/// <summary>
/// The image column a network transform reads: either an image (<see cref="MLImage"/>, as
/// <c>mlContext.Transforms.LoadImages</c> makes) of any size, or a float vector already shaped [3, H, W]
/// with values in [0, 1]. Both become normalised float tensors of the network's input size.
/// </summary>
public sealed class ImageColumn
{
    private readonly DataViewSchema.Column column;
    private readonly bool isImage;
    private readonly int vectorHeight;
    private readonly int vectorWidth;

    private ImageColumn(DataViewSchema.Column column, bool isImage, int vectorHeight, int vectorWidth)
    {
        this.column = column;
        this.isImage = isImage;
        this.vectorHeight = vectorHeight;
        this.vectorWidth = vectorWidth;
    }

    /// <summary>The schema column.</summary>
    public DataViewSchema.Column Column => column;

    /// <summary>
    /// Finds <paramref name="name"/> in <paramref name="schema"/> and checks its type. A float vector must have
    /// the known size 3·<paramref name="height"/>·<paramref name="width"/>.
    /// </summary>
    public static ImageColumn Find(DataViewSchema schema, string name, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(schema);
        DataViewSchema.Column column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), name,
                $"The input has no column '{name}'. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        if (column.Type is ImageDataViewType)
            return new ImageColumn(column, isImage: true, 0, 0);
        if (column.Type is VectorDataViewType { ItemType: NumberDataViewType item } vector && item.RawType == typeof(float)
            && vector.Size == 3 * height * width)
            return new ImageColumn(column, isImage: false, height, width);
        throw new ArgumentException(
            $"Column '{name}' has type {column.Type}; expected an image (MLImage, from LoadImages) or a float vector of size " +
            $"3·{height}·{width} = {3 * height * width} shaped [3, H, W].", nameof(name));
    }

    /// <summary>
    /// A reader of the current row's image. Images are decoded into pixels at once, and the MLImage goes back to its
    /// getter on the next read, as ML.NET's own image transforms do: LoadImages' getter disposes the image it is
    /// handed before decoding the next (ImageLifetimeTests checks this protocol), so each decoded image is freed as
    /// soon as the next row is read, while an image that a cache or an enumerable hands out again is left alone.
    /// </summary>
    public Func<ImagePixels> CreateReader(DataViewRow row)
    {
        if (isImage)
        {
            ValueGetter<MLImage> getImage = row.GetGetter<MLImage>(column);
            MLImage image = null!; // kept across rows: the getter disposes the previous image (a null in is allowed)
            return () =>
            {
                getImage(ref image);
                return FromImage(image, column.Name, row.Position);
            };
        }
        ValueGetter<VBuffer<float>> getVector = row.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        return () =>
        {
            getVector(ref buffer);
            float[] pixels = buffer.DenseValues().ToArray();
            CheckRange(pixels, column.Name, row.Position);
            return new ImagePixels(vectorHeight, vectorWidth, pixels);
        };
    }

    /// <summary>How far outside [0, 1] a float pixel may lie: resampling (bicubic, Lanczos) overshoots a little, and a
    /// vector scaled to 0-255 by mistake is off by far more.</summary>
    public const float RangeTolerance = 0.05f;

    /// <summary>
    /// Checks that float pixels lie in [0, 1] (within <see cref="RangeTolerance"/>): ML.NET's <c>ExtractPixels</c>
    /// gives 0-255 unless told otherwise, which would feed the network values 255 times too large without a word.
    /// </summary>
    /// <exception cref="InvalidDataException">A value (or NaN) lies outside; the message names the column and the fix.</exception>
    internal static void CheckRange(ReadOnlySpan<float> pixels, string columnName, long row)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            float value = pixels[i];
            if (!(value >= -RangeTolerance && value <= 1 + RangeTolerance))
                throw new InvalidDataException(
                    $"Column '{columnName}', row {row}: pixel value {value} (entry {i}) is outside [0, 1]. Float image vectors must hold " +
                    "RGB in [0, 1], channel-first; ML.NET's ExtractPixels gives 0-255 unless asked for [0, 1] with " +
                    "ExtractPixels(..., scaleImage: 1f / 255). Or pass the MLImage column from LoadImages itself.");
        }
    }

    /// <summary>RGB floats of an MLImage (any of its 32-bit pixel formats), channel-first.</summary>
    public static ImagePixels FromImage(MLImage? image, string columnName, long row)
    {
        if (image is null || image.Width == 0 || image.Height == 0)
            throw new InvalidDataException($"Column '{columnName}', row {row}: the image is missing or empty (was the file readable?).");
        int height = image.Height, width = image.Width, plane = height * width;
        ReadOnlySpan<byte> pixels = image.Pixels;
        (int r, int g, int b) = image.PixelFormat switch
        {
            MLPixelFormat.Rgba32 => (0, 1, 2),
            MLPixelFormat.Bgra32 => (2, 1, 0),
            _ => throw new InvalidDataException($"Column '{columnName}', row {row}: unsupported pixel format {image.PixelFormat}."),
        };
        var values = new float[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            values[i] = pixels[4 * i + r] / 255f;
            values[plane + i] = pixels[4 * i + g] / 255f;
            values[2 * plane + i] = pixels[4 * i + b] / 255f;
        }
        return new ImagePixels(height, width, values);
    }
}

/// <summary>How images become the network's input: size, and the per-channel normalisation (x − mean) / std.</summary>
public sealed record ImageNormalization
{
    /// <summary>ImageNet's channel means, the reference's default.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet's channel standard deviations, the reference's default.</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Per-channel means subtracted (RGB).</summary>
    public float[] Mean { get; init; } = ImageNetMean;

    /// <summary>Per-channel standard deviations divided by (RGB).</summary>
    public float[] Std { get; init; } = ImageNetStd;

    /// <summary>
    /// Stacks images into a normalised float32 batch [B, 3, <paramref name="height"/>, <paramref name="width"/>] on
    /// <paramref name="device"/>; images of another size are resized bilinearly (antialiased when shrinking).
    /// </summary>
    public Tensor ToBatch(IReadOnlyList<ImagePixels> images, int height, int width, Device device)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("No images to batch.", nameof(images));
        using var scope = NewDisposeScope();
        var resized = new Tensor[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            ImagePixels image = images[i];
            Tensor pixels = tensor(image.Pixels, [1, 3, image.Height, image.Width]);
            resized[i] = image.Height == height && image.Width == width
                ? pixels
                : nn.functional.interpolate(pixels, [height, width], mode: InterpolationMode.Bilinear, align_corners: false,
                    antialias: image.Height > height || image.Width > width);
        }
        Tensor batch = cat(resized, 0).to(device);
        Tensor mean = tensor(Mean, [1, 3, 1, 1]).to(device);
        Tensor std = tensor(Std, [1, 3, 1, 1]).to(device);
        return ((batch - mean) / std).MoveToOuterDisposeScope();
    }
}
