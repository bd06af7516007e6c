namespace Crate.Transforms.Segmentation;

/// <summary>A grid mask brought to image resolution.</summary>
/// <param name="Source">Index of the grid mask (the object) it came from.</param>
/// <param name="Mask">The pixels, none of which belongs to an earlier mask.</param>
/// <param name="Box">The tightest box around <paramref name="Mask"/>, in pixels.</param>
public sealed record UpsampledMask(int Source, BinaryMask Mask, MaskBox Box);
