using Crate.Trainers.Augmentation;
using Crate.Transforms.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Crate.Trainers.Data;

/// <summary>
/// Embedded data that can show emergent segmentation, in two sets drawn from one object vocabulary (class = outline ×
/// texture, as <see cref="ShapesDataset"/>'s, so a class is told by its outline and its texture together):
/// <list type="bullet">
/// <item><b>Training images</b> for classification (the paper trains on ImageNet): one textured object each, of
/// random size, position, rotation and colour, on a cluttered background: a smooth colour field, a faint grating,
/// untextured distractor outlines, thin lines and pixel noise.</item>
/// <item><b>Scenes</b> for evaluation (the paper evaluates on VOC and COCO): one to four objects on the same kind of
/// background, later objects partly hiding earlier ones, with a class mask, instance masks and boxes.</item>
/// </list>
/// Image i of either set depends only on (seed, i), so any image can be made alone, in any order, on any machine.
/// Masks are exact by construction: a pixel belongs to an object when its centre passes the outline's test, and
/// exactly those pixels are painted with the object's texture (no anti-aliasing); distractors are background.
/// </summary>
public static class SceneDataset
{
    // Random streams: training images and scenes each have a painting stream (background, then pixel noise) and a
    // layout stream (which objects, where); distinct from ShapesDataset's and from training's.
    private const long TrainingDomain = 0x5CE4_E000;
    private const long SceneDomain = TrainingDomain + 2;
    private const int PlacementAttempts = 50;
    private static readonly ShapeFamily[] AllShapes = Enum.GetValues<ShapeFamily>();

    /// <summary>The class names in class order, "disc-stripes", "disc-checker", …; class index c has id c + 1 in class masks.</summary>
    public static IReadOnlyList<string> ClassNames(SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return ObjectClasses.Names(options.Shapes, options.Textures);
    }

    /// <summary>Training image <paramref name="index"/>: one object of class index mod the class count, so classes stay balanced.</summary>
    public static SceneSample TrainingImage(SceneDatasetOptions options, int index) => Make(options, index, scene: false);

    /// <summary>Scene <paramref name="index"/>: <see cref="SceneDatasetOptions.ObjectsPerScene"/> objects of random classes.</summary>
    public static SceneSample Scene(SceneDatasetOptions options, int index) => Make(options, index, scene: true);

    /// <summary>The training images 0 … Count − 1, made one at a time as they are enumerated.</summary>
    public static IEnumerable<SceneSample> GenerateTrainingImages(SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Enumerable.Range(0, options.Count).Select(i => TrainingImage(options, i));
    }

    /// <summary>The scenes 0 … Count − 1, made one at a time as they are enumerated.</summary>
    public static IEnumerable<SceneSample> GenerateScenes(SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Enumerable.Range(0, options.Count).Select(i => Scene(options, i));
    }

    /// <summary>
    /// The training images as a lazy IDataView with the columns of <see cref="ShapesDataset.LoadDataView"/>: Image
    /// (an MLImage of the options' size), Label (text, the class name) and Mask (H·W booleans, true on the object).
    /// </summary>
    public static IDataView LoadTrainingDataView(MLContext context, SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        RecordColumn<SceneSample>[] columns =
        [
            RecordColumn<SceneSample>.Scalar("Image", new ImageDataViewType(options.ImageHeight, options.ImageWidth), ToImage),
            RecordColumn<SceneSample>.Scalar("Label", TextDataViewType.Instance, s => s.Label.AsMemory()),
            RecordColumn<SceneSample>.Vector("Mask", new VectorDataViewType(BooleanDataViewType.Instance, options.ImageHeight * options.ImageWidth), s => s.Mask),
        ];
        return new RecordDataView<int, SceneSample>(context, $"{nameof(SceneDataset)} training images", Enumerable.Range(0, options.Count).ToArray(),
            columns, i => TrainingImage(options, i), i => $"image {i}", skipInvalid: false);
    }

    /// <summary>
    /// The scenes as a lazy IDataView. Columns, masks row-major over H·W pixels:
    /// <list type="bullet">
    /// <item>Image: an MLImage of the options' size.</item>
    /// <item>ClassMask: H·W bytes, 0 for background, else the class index + 1 of the object seen there (no void label).</item>
    /// <item>InstanceMask: H·W bytes, 0 for background, else k + 1 for the k-th object (as VOC's SegmentationObject).</item>
    /// <item>Labels: the objects' class names, in instance order (variable length; ML.NET's object-detection label column).</item>
    /// <item>Box: four floats per object in instance order, x0, y0, x1, y1 in pixels with (x1, y1) exclusive, so a
    /// box covering pixel columns 3…7 has x0 = 3, x1 = 8 (variable length; ML.NET's object-detection box column;
    /// COCO's [x, y, w, h] is [x0, y0, x1 − x0, y1 − y0]).</item>
    /// <item>InstanceCount: the number of objects (an Int32).</item>
    /// </list>
    /// </summary>
    public static IDataView LoadSceneDataView(MLContext context, SceneDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int pixels = options.ImageHeight * options.ImageWidth;
        RecordColumn<SceneSample>[] columns =
        [
            RecordColumn<SceneSample>.Scalar("Image", new ImageDataViewType(options.ImageHeight, options.ImageWidth), ToImage),
            RecordColumn<SceneSample>.Vector("ClassMask", new VectorDataViewType(NumberDataViewType.Byte, pixels), s => s.ClassMask),
            RecordColumn<SceneSample>.Vector("InstanceMask", new VectorDataViewType(NumberDataViewType.Byte, pixels), s => s.InstanceMask),
            RecordColumn<SceneSample>.Vector("Labels", new VectorDataViewType(TextDataViewType.Instance),
                s => s.Objects.Select(o => o.Label.AsMemory()).ToArray()),
            RecordColumn<SceneSample>.Vector("Box", new VectorDataViewType(NumberDataViewType.Single),
                s => s.Objects.SelectMany(o => new float[] { o.Box.X, o.Box.Y, o.Box.X + o.Box.Width, o.Box.Y + o.Box.Height }).ToArray()),
            RecordColumn<SceneSample>.Scalar("InstanceCount", NumberDataViewType.Int32, s => s.Objects.Count),
        ];
        return new RecordDataView<int, SceneSample>(context, $"{nameof(SceneDataset)} scenes", Enumerable.Range(0, options.Count).ToArray(),
            columns, i => Scene(options, i), i => $"scene {i}", skipInvalid: false);
    }

    /// <summary>The sample as an MLImage.</summary>
    public static MLImage ToImage(SceneSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return RgbPixels.ToImage(sample.Width, sample.Height, sample.Rgb);
    }

    private static SceneSample Make(SceneDatasetOptions options, int index, bool scene)
    {
        IReadOnlyList<(int ClassIndex, ObjectGeometry Geometry)> objects = Objects(options, index, scene);
        SplitMix64 painting = PaintingStream(options, index, scene);
        return Render(options, index, objects, ref painting);
    }

    /// <summary>The random stream that paints the background and noise of training image or scene <paramref name="index"/>.</summary>
    internal static SplitMix64 PaintingStream(SceneDatasetOptions options, int index, bool scene) =>
        SplitMix64.For((ulong)options.Seed, scene ? SceneDomain : TrainingDomain, index);

    /// <summary>The classes and geometries of the objects of training image or scene <paramref name="index"/>, in painting order.</summary>
    internal static IReadOnlyList<(int ClassIndex, ObjectGeometry Geometry)> Objects(SceneDatasetOptions options, int index, bool scene)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "The index must not be negative.");
        SplitMix64 layout = SplitMix64.For((ulong)options.Seed, (scene ? SceneDomain : TrainingDomain) + 1, index);
        return scene
            ? Layout(options, options.ObjectsPerScene.Min + layout.NextInt(options.ObjectsPerScene.Max - options.ObjectsPerScene.Min + 1), null, ref layout)
            : Layout(options, 1, index % options.ClassCount, ref layout);
    }

    /// <summary>
    /// Draws <paramref name="count"/> objects (all of class <paramref name="fixedClass"/>, or each of a random class),
    /// wholly inside the image, each placement redrawn until it leaves every earlier object at least
    /// <see cref="SceneDatasetOptions.MinVisibleFraction"/> visible. An object that finds no such place in
    /// <see cref="PlacementAttempts"/> draws ends the scene with the objects placed so far (at least one: the first
    /// object always fits).
    /// </summary>
    private static List<(int ClassIndex, ObjectGeometry Geometry)> Layout(SceneDatasetOptions options, int count, int? fixedClass, ref SplitMix64 random)
    {
        int width = options.ImageWidth, height = options.ImageHeight;
        var owners = new byte[width * height];
        var placed = new List<(int, ObjectGeometry)>(count);
        var visible = new List<int>(count);
        var full = new List<int>(count);
        for (int k = 0; k < count; k++)
        {
            int classIndex = fixedClass ?? random.NextInt(options.ClassCount);
            (ShapeFamily shape, ShapeTexture texture) = ObjectClasses.Of(classIndex, options.Shapes, options.Textures);
            bool found = false;
            for (int attempt = 0; attempt < PlacementAttempts && !found; attempt++)
            {
                double radius = random.NextDouble(options.ObjectRadius.Low, options.ObjectRadius.High);
                ObjectGeometry geometry = ObjectGeometry.Draw(shape, texture, radius, options.TextureCell, width, height, ref random);
                var hidden = new int[k];
                int area = 0;
                (int firstX, int lastX, int firstY, int lastY) = geometry.PixelBounds(width, height);
                for (int y = firstY; y <= lastY; y++)
                    for (int x = firstX; x <= lastX; x++)
                        if (geometry.Contains(x + 0.5, y + 0.5))
                        {
                            area++;
                            if (owners[y * width + x] is byte owner and > 0) hidden[owner - 1]++;
                        }
                found = Enumerable.Range(0, k).All(j => visible[j] - hidden[j] >= options.MinVisibleFraction * full[j]);
                if (!found) continue;
                for (int j = 0; j < k; j++) visible[j] -= hidden[j];
                visible.Add(area);
                full.Add(area);
                for (int y = firstY; y <= lastY; y++)
                    for (int x = firstX; x <= lastX; x++)
                        if (geometry.Contains(x + 0.5, y + 0.5)) owners[y * width + x] = (byte)(k + 1);
                placed.Add((classIndex, geometry));
            }
            if (!found) break;
        }
        return placed;
    }

    /// <summary>
    /// Paints the background from <paramref name="painting"/> (smooth field, grating, distractors, lines), the
    /// objects in order over it, then pixel noise over everything, also from <paramref name="painting"/>. The
    /// objects draw nothing from it, so the same stream without the objects paints the same background and noise.
    /// </summary>
    internal static SceneSample Render(SceneDatasetOptions options, int index, IReadOnlyList<(int ClassIndex, ObjectGeometry Geometry)> objects,
        ref SplitMix64 painting)
    {
        int width = options.ImageWidth, height = options.ImageHeight;
        float[] pixels = Background.SmoothField(width, height, ref painting);
        if (options.TexturedBackground) Background.Grating(pixels, width, height, ref painting);
        int distractors = options.Distractors.Min + painting.NextInt(options.Distractors.Max - options.Distractors.Min + 1);
        for (int d = 0; d < distractors; d++)
        {
            // Anywhere, even partly outside the image: an outline without a texture is not an object of any class.
            ShapeFamily shape = AllShapes[painting.NextInt(AllShapes.Length)];
            double radius = painting.NextDouble(0.5 * options.ObjectRadius.Low, options.ObjectRadius.High);
            var outline = new ObjectGeometry(shape, ShapeTexture.Stripes, painting.NextDouble(0, width), painting.NextDouble(0, height), radius,
                painting.NextDouble(0, 2 * Math.PI), options.TextureCell, default, default);
            Background.Solid(pixels, width, height, outline, Colour.FromHsv(painting.NextDouble(), painting.NextDouble(0, 0.7), painting.NextDouble(0.25, 0.95)));
        }
        Background.Lines(pixels, width, height, ref painting);
        var instances = new byte[width * height];
        var fullAreas = new int[objects.Count];
        for (int k = 0; k < objects.Count; k++)
            fullAreas[k] = objects[k].Geometry.Paint(pixels, instances, (byte)(k + 1), width, height);
        Background.Noise(pixels, ref painting, options.PixelNoise);

        var classes = new byte[width * height];
        var areas = new int[objects.Count];
        var boxes = new (int Left, int Top, int Right, int Bottom)[objects.Count];
        Array.Fill(boxes, (width, height, -1, -1));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int id = instances[y * width + x];
                if (id == 0) continue;
                classes[y * width + x] = (byte)(objects[id - 1].ClassIndex + 1);
                areas[id - 1]++;
                (int left, int top, int right, int bottom) = boxes[id - 1];
                boxes[id - 1] = (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
            }
        var annotated = new SceneObject[objects.Count];
        for (int k = 0; k < objects.Count; k++)
        {
            (int left, int top, int right, int bottom) = boxes[k];
            ObjectGeometry g = objects[k].Geometry;
            annotated[k] = new SceneObject(objects[k].ClassIndex, ObjectClasses.Name(g.Shape, g.Texture),
                areas[k] == 0 ? (0, 0, 0, 0) : (left, top, right - left + 1, bottom - top + 1), areas[k], fullAreas[k]);
        }
        return new SceneSample(index, width, height, RgbPixels.ToBytes(pixels), classes, instances, annotated);
    }
}
