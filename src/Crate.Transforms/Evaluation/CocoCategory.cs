namespace Crate.Transforms.Evaluation;

/// <summary>A category record of a COCO annotation file.</summary>
/// <param name="Id">"id".</param>
/// <param name="Name">"name"; empty when the file gives none.</param>
/// <param name="Supercategory">"supercategory", or null.</param>
public sealed record CocoCategory(long Id, string Name, string? Supercategory = null);
