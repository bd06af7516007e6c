using System.Text;
using Crate.Trainers.Augmentation;
using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Data;

/// <summary>
/// The embedded dataset: labelled RGB images of one object each (class = outline × texture) at a random position,
/// scale, rotation and colour, on a smooth, cluttered background, each with its exact object mask. Image i depends
/// only on (seed, i), so any image can be made alone, in any order, on any machine; nothing is downloaded.
/// Masks are exact by construction: a pixel belongs to the object when its centre passes the outline's test, and
/// exactly those pixels are painted with the object's texture (no anti-aliasing at the boundary).
/// </summary>
public static class ShapesDataset
{
    // Separates the dataset's random streams from training's, which use the same generator.
    private const long RandomDomain = 0x5EED_DA7A;

    /// <summary>The class names in class order: each shape with each texture, "disc-stripes", "disc-checker", ….</summary>
    public static IReadOnlyList<string> ClassNames(ShapesDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return ObjectClasses.Names(options.Shapes, options.Textures);
    }

    /// <summary>Image <paramref name="index"/> of the dataset. Class = index mod the class count, so classes stay balanced.</summary>
    public static ShapesSample Sample(ShapesDatasetOptions options, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "The index must not be negative.");
        int classes = options.Shapes.Count * options.Textures.Count;
        int classIndex = index % classes;
        SplitMix64 random = SplitMix64.For((ulong)options.Seed, RandomDomain, index);
        ObjectGeometry geometry = ObjectGeometry.Draw(options, classIndex, ref random);
        return Render(options, index, classIndex, geometry, ref random);
    }

    /// <summary>The images 0 … Count − 1, made one at a time as they are enumerated.</summary>
    public static IEnumerable<ShapesSample> Generate(ShapesDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        for (int i = 0; i < options.Count; i++) yield return Sample(options, i);
    }

    /// <summary>
    /// The dataset as a lazy IDataView with columns Image (an MLImage of the options' size), Label (text) and
    /// Mask (a boolean vector of H·W entries): each cursor makes the images as it reaches them.
    /// </summary>
    public static IDataView LoadDataView(MLContext context, ShapesDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        RecordColumn<ShapesSample>[] columns =
        [
            RecordColumn<ShapesSample>.Scalar("Image", new ImageDataViewType(options.ImageHeight, options.ImageWidth), ToImage),
            RecordColumn<ShapesSample>.Scalar("Label", TextDataViewType.Instance, s => s.Label.AsMemory()),
            RecordColumn<ShapesSample>.Vector("Mask", new VectorDataViewType(BooleanDataViewType.Instance, options.ImageHeight * options.ImageWidth), s => s.Mask),
        ];
        return new RecordDataView<int, ShapesSample>(context, nameof(ShapesDataset), Enumerable.Range(0, options.Count).ToArray(), columns,
            i => Sample(options, i), i => $"image {i}", skipInvalid: false);
    }

    /// <summary>The sample as an MLImage.</summary>
    public static MLImage ToImage(ShapesSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return RgbPixels.ToImage(sample.Width, sample.Height, sample.Rgb);
    }

    /// <summary>The folder of <see cref="WriteFolder"/>'s output that holds a folder of images per class.</summary>
    public const string ImagesFolder = "images";

    /// <summary>
    /// Writes the dataset as a folder: images/&lt;class&gt;/&lt;index&gt;.png (a folder per class, as
    /// <c>mlContext.Data.LoadClassificationFolder(Path.Combine(directory, "images"))</c> reads it), masks/&lt;index&gt;.png
    /// (white on the object) and labels.tsv (ImagePath, Label, MaskPath, relative). A non-empty folder is refused
    /// unless <paramref name="overwrite"/>; labels.tsv is written last, through a temporary file, so it only ever lists
    /// images that exist. Returns the path of labels.tsv.
    /// </summary>
    public static string WriteFolder(ShapesDatasetOptions options, string directory, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options.Validate();
        string root = Path.GetFullPath(directory);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any() && !overwrite)
            throw new IOException($"The folder '{root}' is not empty; pass overwrite: true to write the dataset into it anyway.");
        Directory.CreateDirectory(Path.Combine(root, "masks"));
        var labels = new StringBuilder("ImagePath\tLabel\tMaskPath\n");
        foreach (ShapesSample sample in Generate(options))
        {
            string imagePath = Path.Combine(ImagesFolder, sample.Label, $"{sample.Index:D6}.png");
            string maskPath = Path.Combine("masks", $"{sample.Index:D6}.png");
            Directory.CreateDirectory(Path.Combine(root, ImagesFolder, sample.Label));
            using (MLImage image = ToImage(sample)) image.Save(Path.Combine(root, imagePath));
            using (MLImage mask = RgbPixels.MaskImage(sample.Width, sample.Height, sample.Mask)) mask.Save(Path.Combine(root, maskPath));
            labels.Append(imagePath).Append('\t').Append(sample.Label).Append('\t').Append(maskPath).Append('\n');
        }
        string labelsPath = Path.Combine(root, "labels.tsv");
        string temporary = labelsPath + ".tmp";
        File.WriteAllText(temporary, labels.ToString());
        File.Move(temporary, labelsPath, overwrite: true);
        return labelsPath;
    }

    /// <summary>Paints the background, then the object exactly where its outline test holds.</summary>
    internal static ShapesSample Render(ShapesDatasetOptions options, int index, int classIndex, ObjectGeometry geometry, ref SplitMix64 random)
    {
        int width = options.ImageWidth, height = options.ImageHeight;
        float[] pixels = Background.Paint(width, height, ref random);
        var owners = new byte[width * height];
        geometry.Paint(pixels, owners, 1, width, height);
        return new ShapesSample(index, classIndex, ObjectClasses.Name(geometry.Shape, geometry.Texture), width, height, RgbPixels.ToBytes(pixels),
            Array.ConvertAll(owners, o => o != 0));
    }
}
