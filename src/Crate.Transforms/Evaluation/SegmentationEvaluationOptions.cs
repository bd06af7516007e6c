using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Evaluation;

/// <summary>Options of the segmentation evaluators in <see cref="SegmentationEvaluationCatalog"/>.</summary>
public sealed record SegmentationEvaluationOptions
{
    /// <summary>The truth value that marks a pixel as unlabelled (void). Default 255, PASCAL VOC's.</summary>
    public int IgnoreLabel { get; init; } = 255;

    /// <summary>
    /// The Int32 column holding each row's truth height, read only when the prediction has another number of entries
    /// than the truth and the truth column's type does not give its [height, width] shape (variable-size masks such
    /// as VOC's). Default "Height", what the dataset readers output.
    /// </summary>
    public string HeightColumnName { get; init; } = "Height";

    /// <summary>The Int32 column holding each row's truth width; see <see cref="HeightColumnName"/>. Default "Width".</summary>
    public string WidthColumnName { get; init; } = "Width";

    /// <summary>A text column naming each record in error messages, used when the data has it. Default "Name", what the
    /// dataset readers output.</summary>
    public string NameColumnName { get; init; } = "Name";

    /// <summary>
    /// How the head-based evaluators threshold a float column of attention maps (CrateAttention's output) into head
    /// masks; ignored for boolean head masks (CrateSegment's HeadMasks). Null for each evaluator's reference rule:
    /// <see cref="MaskRule.TopFraction"/> for eq. 13 (Appendix B.3), <see cref="MaskRule.CumulativeMass"/> for DINO's
    /// Jaccard. Default null.
    /// </summary>
    public MaskRule? Rule { get; init; }

    /// <summary>P, the fraction kept when thresholding attention maps. Default 0.6, the paper's and DINO's.</summary>
    public double Fraction { get; init; } = 0.6;

    /// <summary>
    /// For the head-based evaluators: an image with no class to score (all void, or no foreground class for DINO's
    /// Jaccard) is an error by default, since the reference code divides by zero on it; when true it is skipped,
    /// counted in the metrics' <c>SkippedImageCount</c> and logged. Default false.
    /// </summary>
    public bool SkipImagesWithoutClasses { get; init; }
}
