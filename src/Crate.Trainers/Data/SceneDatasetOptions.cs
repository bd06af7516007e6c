namespace Crate.Trainers.Data;

/// <summary>
/// Options of <see cref="SceneDataset"/>: the object vocabulary (outline × texture), the objects' size in pixels,
/// the clutter, and for the evaluation scenes how many objects and how much occlusion. The defaults make 48×48
/// images (a 12×12 grid at patch 4) of 8 classes (disc, square, triangle, cross × stripes, dots), objects of radius
/// 10–18 pixels on a textured background with one to three untextured distractors; scenes hold one to four objects,
/// each at least half visible. A small ViT or CRATE learns them in a few thousand steps (docs/emergence.md).
/// </summary>
public sealed record SceneDatasetOptions
{
    /// <summary>Image width in pixels. Default 48.</summary>
    public int ImageWidth { get; init; } = 48;

    /// <summary>Image height in pixels. Default 48.</summary>
    public int ImageHeight { get; init; } = 48;

    /// <summary>Number of images. Default 12,000.</summary>
    public int Count { get; init; } = 12_000;

    /// <summary>Seed: image i depends only on (Seed, i, and whether it is a training image or a scene). Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Outlines; each class is one outline with one texture. Default all four.</summary>
    public IReadOnlyList<ShapeFamily> Shapes { get; init; } = [ShapeFamily.Disc, ShapeFamily.Square, ShapeFamily.Triangle, ShapeFamily.Cross];

    /// <summary>Textures. Default stripes and dots (checker makes a harder task).</summary>
    public IReadOnlyList<ShapeTexture> Textures { get; init; } = [ShapeTexture.Stripes, ShapeTexture.Dots];

    /// <summary>
    /// Object radius in pixels (the radius of the circle the outline is inscribed in), drawn uniformly in this
    /// range. In pixels rather than as a share of the image, so scenes made larger than the training images hold
    /// objects of the sizes the network was trained on. Default (10, 18).
    /// </summary>
    public (double Low, double High) ObjectRadius { get; init; } = (10, 18);

    /// <summary>Side of a texture cell (a stripe's width, a checker square, a dot's spacing) in pixels. Default 4.</summary>
    public double TextureCell { get; init; } = 4;

    /// <summary>Objects in a scene, drawn uniformly in this range (inclusive). Training images hold one. Default (1, 4).</summary>
    public (int Min, int Max) ObjectsPerScene { get; init; } = (1, 4);

    /// <summary>
    /// Least share of each scene object's area left visible by the objects painted over it; a placement that would
    /// hide more of an earlier object is drawn again (up to 50 times; then the scene keeps the objects it has).
    /// Default 0.5.
    /// </summary>
    public double MinVisibleFraction { get; init; } = 0.5;

    /// <summary>Untextured, flat-coloured outlines painted into the background, drawn uniformly in this range (inclusive). Default (1, 3).</summary>
    public (int Min, int Max) Distractors { get; init; } = (1, 3);

    /// <summary>
    /// Largest change the independent pixel noise makes to a channel, over the whole image, objects included. Default
    /// 0.03 (faint). Strong noise (0.2-0.4) makes a single patch's texture ambiguous, so a classifier gains by pooling
    /// the evidence of all of an object's patches (docs/emergence.md, the search for a miniature).
    /// </summary>
    public double PixelNoise { get; init; } = Background.NoiseAmplitude;

    /// <summary>A faint grating (a texture of no class) over the background. Default true.</summary>
    public bool TexturedBackground { get; init; } = true;

    /// <summary>Number of classes: outlines × textures.</summary>
    public int ClassCount => Shapes.Count * Textures.Count;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        ObjectClasses.ValidateCommon(nameof(SceneDatasetOptions), ImageWidth, ImageHeight, Count, Shapes, Textures);
        void Require(bool ok, string name, string why) => ObjectClasses.Require(nameof(SceneDatasetOptions), ok, name, why);
        Require(ObjectRadius.Low >= 2 && ObjectRadius.Low <= ObjectRadius.High, nameof(ObjectRadius), "must satisfy 2 ≤ low ≤ high");
        Require(2 * (ObjectRadius.High + 1) <= Math.Min(ImageWidth, ImageHeight), nameof(ObjectRadius),
            $"high end {ObjectRadius.High} does not fit a {ImageWidth}×{ImageHeight} image: it needs 2·(radius + 1) ≤ the shorter side");
        Require(TextureCell >= 2 && TextureCell <= ObjectRadius.Low, nameof(TextureCell), "must be at least 2 pixels and at most the smallest radius");
        Require(ObjectsPerScene.Min >= 1 && ObjectsPerScene.Min <= ObjectsPerScene.Max && ObjectsPerScene.Max <= 255, nameof(ObjectsPerScene),
            "must satisfy 1 ≤ min ≤ max ≤ 255");
        Require(MinVisibleFraction is >= 0 and <= 1, nameof(MinVisibleFraction), "must be in [0, 1]");
        Require(Distractors.Min >= 0 && Distractors.Min <= Distractors.Max, nameof(Distractors), "must satisfy 0 ≤ min ≤ max");
        Require(PixelNoise is >= 0 and <= 1, nameof(PixelNoise), "must be in [0, 1]");
    }
}
