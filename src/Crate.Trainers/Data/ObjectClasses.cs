namespace Crate.Trainers.Data;

/// <summary>
/// The embedded datasets' object vocabulary: class = outline × texture, numbered outline-major
/// (class c is outline c / T with texture c mod T, for T textures) and named "outline-texture".
/// </summary>
internal static class ObjectClasses
{
    /// <summary>The class names in class order, "disc-stripes", "disc-dots", ….</summary>
    public static string[] Names(IReadOnlyList<ShapeFamily> shapes, IReadOnlyList<ShapeTexture> textures) =>
        shapes.SelectMany(s => textures.Select(t => Name(s, t))).ToArray();

    /// <summary>The name of the class of this outline and texture.</summary>
    public static string Name(ShapeFamily shape, ShapeTexture texture) => $"{shape}-{texture}".ToLowerInvariant();

    /// <summary>The outline and texture of class <paramref name="classIndex"/>.</summary>
    public static (ShapeFamily Shape, ShapeTexture Texture) Of(int classIndex, IReadOnlyList<ShapeFamily> shapes, IReadOnlyList<ShapeTexture> textures) =>
        (shapes[classIndex / textures.Count], textures[classIndex % textures.Count]);

    /// <summary>
    /// The checks both datasets' options share: image sides, count, and a vocabulary of distinct known outlines and
    /// textures. Throws <see cref="ArgumentException"/> naming <paramref name="options"/>' first field out of range.
    /// </summary>
    public static void ValidateCommon(string options, int imageWidth, int imageHeight, int count, IReadOnlyList<ShapeFamily> shapes,
        IReadOnlyList<ShapeTexture> textures)
    {
        Require(options, imageWidth >= 8, "ImageWidth", $"is {imageWidth}; images need at least 8 pixels a side");
        Require(options, imageHeight >= 8, "ImageHeight", $"is {imageHeight}; images need at least 8 pixels a side");
        Require(options, count >= 0, "Count", "must not be negative");
        Require(options, shapes is { Count: > 0 }, "Shapes", "must name at least one shape");
        Require(options, textures is { Count: > 0 }, "Textures", "must name at least one texture");
        Require(options, shapes.Distinct().Count() == shapes.Count && shapes.All(Enum.IsDefined), "Shapes", "must be distinct known shapes");
        Require(options, textures.Distinct().Count() == textures.Count && textures.All(Enum.IsDefined), "Textures", "must be distinct known textures");
    }

    /// <summary>Throws <see cref="ArgumentException"/> "<paramref name="options"/>.<paramref name="name"/> <paramref name="why"/>." unless <paramref name="ok"/>.</summary>
    public static void Require(string options, bool ok, string name, string why)
    {
        if (!ok) throw new ArgumentException($"{options}.{name} {why}.", name);
    }
}
