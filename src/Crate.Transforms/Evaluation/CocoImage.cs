namespace Crate.Transforms.Evaluation;

/// <summary>An image record of a COCO annotation file.</summary>
/// <param name="Id">"id".</param>
/// <param name="Width">"width" in pixels.</param>
/// <param name="Height">"height" in pixels.</param>
/// <param name="FileName">"file_name", relative to the image folder; empty when the file gives none.</param>
public sealed record CocoImage(long Id, int Width, int Height, string FileName);
