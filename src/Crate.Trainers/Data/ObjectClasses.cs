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
}
