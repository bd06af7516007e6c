namespace Crate.Trainers.Data;

/// <summary>One object of a <see cref="SceneSample"/>, as much of it as is visible.</summary>
/// <param name="ClassIndex">Its class, 0-based (its id in <see cref="SceneSample.ClassMask"/> is ClassIndex + 1).</param>
/// <param name="Label">Its class name, "shape-texture".</param>
/// <param name="Box">The tightest box around its visible pixels: (x, y, width, height) in pixels, x and y of the top-left pixel.</param>
/// <param name="Area">Visible pixels.</param>
/// <param name="FullArea">Pixels it would cover were nothing painted over it.</param>
public sealed record SceneObject(int ClassIndex, string Label, (int X, int Y, int Width, int Height) Box, int Area, int FullArea);

/// <summary>
/// One image of <see cref="SceneDataset"/> with its exact annotations. Objects are listed in painting order (later
/// ones occlude earlier ones); object k (0-based) is instance k + 1 in <see cref="InstanceMask"/>.
/// </summary>
/// <param name="Index">Its index i; the image depends only on (seed, i) and which set it belongs to.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgb">Pixels, row-major, 3 bytes each (R, G, B).</param>
/// <param name="ClassMask">Per pixel, row-major: 0 for background (distractors included), else the visible object's class index + 1.</param>
/// <param name="InstanceMask">Per pixel, row-major: 0 for background, else k + 1 for the visible object <see cref="Objects"/>[k].</param>
/// <param name="Objects">The objects, in painting order.</param>
public sealed record SceneSample(int Index, int Width, int Height, byte[] Rgb, byte[] ClassMask, byte[] InstanceMask, IReadOnlyList<SceneObject> Objects)
{
    /// <summary>The class name of the first object: a training image's label.</summary>
    public string Label => Objects[0].Label;

    /// <summary>The first object's class: a training image's class.</summary>
    public int ClassIndex => Objects[0].ClassIndex;

    /// <summary>True on every object pixel, row-major.</summary>
    public bool[] Mask => Array.ConvertAll(InstanceMask, id => id != 0);

    /// <summary>True on the visible pixels of <see cref="Objects"/>[<paramref name="k"/>], row-major.</summary>
    public bool[] InstanceMaskOf(int k)
    {
        if ((uint)k >= (uint)Objects.Count)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"The scene has {Objects.Count} objects.");
        byte id = (byte)(k + 1);
        return Array.ConvertAll(InstanceMask, i => i == id);
    }
}
