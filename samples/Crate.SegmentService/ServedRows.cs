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
/// The served pipeline's output row: the classifier's class probabilities beside CrateMaskCut's columns under their
/// default names (read by <see cref="MaskCutPrediction"/>, whose <see cref="MaskCutPrediction.Objects"/> checks their
/// lengths and splits them into objects).
/// </summary>
public sealed class SegmentationRow : MaskCutPrediction
{
    /// <summary>Class probabilities, in the order of the classes (the column is renamed to
    /// <see cref="SegmentationServiceOptions.ScoreColumnName"/>).</summary>
    public float[] Score { get; set; } = [];

    /// <summary>The index of the most probable class: the first of the largest probabilities, as the classifier's
    /// PredictedLabel (less one) is.</summary>
    public int PredictedClass() => Array.IndexOf(Score, Score.Max());
}
