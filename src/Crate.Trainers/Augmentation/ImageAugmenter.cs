using static TorchSharp.torch;

namespace Crate.Trainers.Augmentation;

/// <summary>The training augmentations of the reference recipe, each switchable.</summary>
internal sealed record AugmentationOptions
{
    /// <summary>RandomResizedCrop: crop a random area and aspect, resize back. Default true.</summary>
    public bool RandomResizedCrop { get; init; } = true;

    /// <summary>Horizontal flip with probability ½. Default true.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>Range of the crop's area as a fraction of the image. Default (0.08, 1), torchvision's.</summary>
    public (double Low, double High) Scale { get; init; } = (0.08, 1.0);

    /// <summary>Range of the crop's aspect ratio w/h. Default (3/4, 4/3), torchvision's.</summary>
    public (double Low, double High) Ratio { get; init; } = (3.0 / 4.0, 4.0 / 3.0);
}

/// <summary>A crop rectangle in pixels.</summary>
internal readonly record struct CropBox(int Top, int Left, int Height, int Width);

/// <summary>
/// Applies <see cref="AugmentationOptions"/> to batches [B, C, H, W]. Image i of a batch starting at row r of
/// epoch e draws from <see cref="SplitMix64.For"/>(seed, e, r + i): stateless, so the same run resumed midway
/// augments exactly as it would have.
/// </summary>
internal sealed class ImageAugmenter
{
    private readonly AugmentationOptions options;
    private readonly ulong seed;

    /// <summary>Creates the augmenter.</summary>
    public ImageAugmenter(AugmentationOptions options, ulong seed)
    {
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.seed = seed;
    }

    /// <summary>The augmented batch (a new tensor); <paramref name="firstRow"/> is the epoch row of image 0.</summary>
    public Tensor Apply(Tensor batch, int epoch, long firstRow)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        int height = (int)batch.shape[2], width = (int)batch.shape[3];
        var images = new Tensor[batch.shape[0]];
        for (int i = 0; i < images.Length; i++)
        {
            SplitMix64 random = SplitMix64.For(seed, epoch, firstRow + i);
            Tensor image = batch.narrow(0, i, 1);
            if (options.RandomResizedCrop)
            {
                CropBox box = SampleCrop(height, width, ref random);
                image = ResizedCrop(image, box, height, width);
            }
            if (options.HorizontalFlip && random.NextDouble() < 0.5)
                image = image.flip(3);
            images[i] = image;
        }
        return cat(images, 0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// torchvision's RandomResizedCrop box: up to 10 tries of an area fraction uniform in Scale and a log-uniform
    /// aspect in Ratio; failing that, the central crop with the aspect clamped into Ratio.
    /// </summary>
    public CropBox SampleCrop(int height, int width, ref SplitMix64 random)
    {
        double area = (double)height * width;
        double logLow = Math.Log(options.Ratio.Low), logHigh = Math.Log(options.Ratio.High);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * random.NextDouble(options.Scale.Low, options.Scale.High);
            double aspect = Math.Exp(random.NextDouble(logLow, logHigh));
            int w = (int)Math.Round(Math.Sqrt(target * aspect));
            int h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= width && h <= height)
                return new CropBox(random.NextInt(height - h + 1), random.NextInt(width - w + 1), h, w);
        }
        double ratio = (double)width / height;
        (int cropHeight, int cropWidth) = ratio < options.Ratio.Low ? ((int)Math.Round(width / options.Ratio.Low), width)
            : ratio > options.Ratio.High ? (height, (int)Math.Round(height * options.Ratio.High))
            : (height, width);
        return new CropBox((height - cropHeight) / 2, (width - cropWidth) / 2, cropHeight, cropWidth);
    }

    /// <summary>The box of <paramref name="image"/> [1, C, H, W] resized bilinearly (antialiased when shrinking) to the output size.</summary>
    public static Tensor ResizedCrop(Tensor image, CropBox box, int height, int width)
    {
        Tensor crop = image.narrow(2, box.Top, box.Height).narrow(3, box.Left, box.Width);
        return nn.functional.interpolate(crop, [height, width], mode: InterpolationMode.Bilinear, align_corners: false,
            antialias: box.Height > height || box.Width > width);
    }
}
