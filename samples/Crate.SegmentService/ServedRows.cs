using Crate.Transforms.Segmentation;
using Microsoft.ML.Data;

namespace Crate.SegmentService;

/// <summary>The served pipeline's input row: one decoded image, of any size. Read it through
/// <see cref="ServingPipeline.InputDefinition"/>, which types the column as an image of unknown size.</summary>
public sealed class ImageInput
{
    /// <summary>The image (the column is renamed to <see cref="SegmentationServiceOptions.ImageColumnName"/>).</summary>
    public MLImage? Image { get; set; }
}

/// <summary>
/// The served pipeline's output row: the classifier's class probabilities and CrateMaskCut's columns under their
/// default names (those of <see cref="MaskCutPrediction"/>).
/// </summary>
public sealed class SegmentationRow
{
    /// <summary>Class probabilities, in the order of the classes (the column is renamed to
    /// <see cref="SegmentationServiceOptions.ScoreColumnName"/>).</summary>
    public float[] Score { get; set; } = [];

    /// <summary>Objects found.</summary>
    [ColumnName("MaskCutCount")]
    public int ObjectCount { get; set; }

    /// <summary>The masks' height, the image's own.</summary>
    [ColumnName("MaskCutMaskHeight")]
    public int MaskHeight { get; set; }

    /// <summary>The masks' width, the image's own.</summary>
    [ColumnName("MaskCutMaskWidth")]
    public int MaskWidth { get; set; }

    /// <summary>ObjectCount·MaskHeight·MaskWidth booleans, mask after mask, row-major.</summary>
    [ColumnName("MaskCutMasks")]
    public bool[] Masks { get; set; } = [];

    /// <summary>ObjectCount·4 values (x0, y0, x1, y1), inclusive pixel indices.</summary>
    [ColumnName("MaskCutBoxes")]
    public float[] Boxes { get; set; } = [];

    /// <summary>ObjectCount scores.</summary>
    [ColumnName("MaskCutScores")]
    public float[] Scores { get; set; } = [];

    /// <summary>The index of the most probable class: the first of the largest probabilities, as the classifier's
    /// PredictedLabel (less one) is.</summary>
    public int PredictedClass() => Array.IndexOf(Score, Score.Max());

    /// <summary>The MaskCut columns as a <see cref="MaskCutPrediction"/>, whose <see cref="MaskCutPrediction.Objects"/>
    /// checks their lengths and splits them into objects.</summary>
    public MaskCutPrediction MaskCut() => new()
    {
        ObjectCount = ObjectCount, MaskHeight = MaskHeight, MaskWidth = MaskWidth, Masks = Masks, Boxes = Boxes, Scores = Scores,
    };
}
