using Microsoft.ML.Data;

namespace Crate.Transforms.Segmentation;

/// <summary>
/// A row of <see cref="CrateMaskCutTransformer"/>'s output under the default column names, for
/// <c>mlContext.Data.CreateEnumerable</c> or a PredictionEngine; <see cref="Objects"/> splits it into one
/// <see cref="MaskCutDetection"/> per object. Derive from it to read other columns of the same rows along (the
/// image's name, other read-outs).
/// </summary>
public class MaskCutPrediction
{
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

    /// <summary>The objects, in the order MaskCut found them.</summary>
    /// <exception cref="InvalidDataException">The vectors' lengths disagree with the count and shape.</exception>
    public IReadOnlyList<MaskCutDetection> Objects()
    {
        int cells = MaskHeight * MaskWidth;
        if (ObjectCount < 0 || Masks.Length != ObjectCount * cells || Boxes.Length != 4 * ObjectCount || Scores.Length != ObjectCount)
            throw new InvalidDataException(
                $"A MaskCut row of {ObjectCount} objects of {MaskHeight}×{MaskWidth} pixels needs {ObjectCount * cells} mask entries, " +
                $"{4 * ObjectCount} box values and {ObjectCount} scores; it has {Masks.Length}, {Boxes.Length} and {Scores.Length}.");
        return Enumerable.Range(0, ObjectCount).Select(k => new MaskCutDetection(
            new BinaryMask(MaskHeight, MaskWidth, Masks.AsSpan(k * cells, cells)),
            Boxes[4 * k], Boxes[4 * k + 1], Boxes[4 * k + 2], Boxes[4 * k + 3], Scores[k])).ToArray();
    }
}

/// <summary>One object MaskCut found, at the image's own size.</summary>
/// <param name="Mask">Its pixels.</param>
/// <param name="X0">First column of its box.</param>
/// <param name="Y0">First row of its box.</param>
/// <param name="X1">Last column of its box (inclusive).</param>
/// <param name="Y1">Last row of its box (inclusive).</param>
/// <param name="Score">1 − Ncut/2 of its cut, in [0, 1].</param>
public sealed record MaskCutDetection(BinaryMask Mask, float X0, float Y0, float X1, float Y1, float Score);
