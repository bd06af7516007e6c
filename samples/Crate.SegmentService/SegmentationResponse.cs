using Crate.Transforms.Evaluation;
using Crate.Transforms.Segmentation;

namespace Crate.SegmentService;

/// <summary>
/// What <c>POST /segment</c> returns for one image: its size, the predicted class with its probability, every class's
/// probability, and the objects MaskCut found, each with its mask as COCO compressed RLE at the image's size, its box
/// in COCO's [x, y, width, height] and its score, as pycocotools' results files hold them.
/// </summary>
/// <param name="Height">The image's height in pixels.</param>
/// <param name="Width">The image's width in pixels.</param>
/// <param name="Class">The most probable class.</param>
/// <param name="Probabilities">Every class's probability, in the model's class order.</param>
/// <param name="Objects">The objects, in the order MaskCut found them (masks never overlap).</param>
public sealed record SegmentationResponse(int Height, int Width, ClassProbability Class, IReadOnlyList<ClassProbability> Probabilities,
    IReadOnlyList<SegmentedObject> Objects)
{
    /// <summary>The response for one prediction of an image of <paramref name="height"/>×<paramref name="width"/>.</summary>
    /// <exception cref="InvalidDataException">The row's MaskCut columns disagree with each other.</exception>
    public static SegmentationResponse From(SegmentationRow row, IReadOnlyList<string> classNames, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(classNames);
        if (row.Score.Length != classNames.Count)
            throw new InvalidDataException($"The classifier gave {row.Score.Length} probabilities for {classNames.Count} classes.");
        ClassProbability[] probabilities = row.Score.Select((p, k) => new ClassProbability(classNames[k], p)).ToArray();
        SegmentedObject[] objects = row.Objects().Select(found =>
        {
            RleMask mask = RleMask.FromPixels(found.Mask);
            return new SegmentedObject(found.Score, [found.X0, found.Y0, found.X1 - found.X0 + 1, found.Y1 - found.Y0 + 1], mask.Area,
                new CompressedRle([mask.Height, mask.Width], mask.ToCompressedString()));
        }).ToArray();
        return new SegmentationResponse(height, width, probabilities[row.PredictedClass()], probabilities, objects);
    }
}

/// <summary>A class and its probability.</summary>
/// <param name="Label">The class name.</param>
/// <param name="Probability">Its softmax probability.</param>
public sealed record ClassProbability(string Label, float Probability);

/// <summary>One object MaskCut found.</summary>
/// <param name="Score">1 − Ncut/2 of its cut, in [0, 1].</param>
/// <param name="Bbox">The box around its mask, COCO's [x, y, width, height] in whole pixels.</param>
/// <param name="Area">Pixels in its mask.</param>
/// <param name="Segmentation">Its mask at the image's size.</param>
public sealed record SegmentedObject(float Score, float[] Bbox, long Area, CompressedRle Segmentation);

/// <summary>A mask as COCO's compressed RLE: <c>{"size": [h, w], "counts": "..."}</c>, column-major runs (decode with
/// pycocotools' <c>mask.decode</c> or <see cref="RleMask.FromCompressedString"/>).</summary>
/// <param name="Size">[height, width].</param>
/// <param name="Counts">The runs in COCO's compressed string form.</param>
public sealed record CompressedRle(int[] Size, string Counts);
