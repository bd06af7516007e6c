namespace Crate.Transforms.Segmentation;

/// <summary>CutLER's check on every mask after the first (spec, "MaskCut"): a mask that mostly repeats the previous
/// one, or is a speck, is not an object.</summary>
internal static class MaskCutFilter
{
    /// <summary>True when <paramref name="candidate"/> overlaps <paramref name="previous"/> with IoU above
    /// <see cref="MaskCutOptions.MaxOverlap"/> or covers at most <see cref="MaskCutOptions.MinAreaFraction"/> of
    /// the grid.</summary>
    public static bool Rejects(BinaryMask candidate, BinaryMask previous, MaskCutOptions options) =>
        candidate.IntersectionOverUnion(previous) > options.MaxOverlap
        || (double)candidate.Area / (candidate.Height * candidate.Width) <= options.MinAreaFraction;
}
