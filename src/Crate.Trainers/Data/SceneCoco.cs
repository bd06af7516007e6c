using Crate.Transforms.Evaluation;

namespace Crate.Trainers.Data;

/// <summary>
/// The evaluation scenes of <see cref="SceneDataset"/> as COCO ground truth, so that MaskCut's objects (or any
/// detector's) on them are scored by <see cref="CocoEvaluation"/> exactly as on COCO val2017: one image record per
/// scene, one annotation per visible object with its exact instance mask (as RLE), the tight box around its visible
/// pixels and their count as its area, and one category per class.
/// </summary>
public static class SceneCoco
{
    /// <summary>The COCO image id of scene <paramref name="index"/>: index + 1 (COCO ids start at 1; pycocotools reads id 0 as "no match").</summary>
    public static long ImageId(int index) => index + 1L;

    /// <summary>
    /// Ground truth for <paramref name="scenes"/>. Image ids are <see cref="ImageId"/> of each scene's index, file names
    /// "scene-000123.png"; annotation ids count from 1 in scene order, then object order; category id = class index + 1,
    /// named by <paramref name="classNames"/> (<see cref="SceneDataset.ClassNames"/>). An object with no visible pixel
    /// has nothing to find and is left out; no object is a crowd region.
    /// </summary>
    public static CocoDataset GroundTruth(IEnumerable<SceneSample> scenes, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(scenes);
        ArgumentNullException.ThrowIfNull(classNames);
        var images = new List<CocoImage>();
        var annotations = new List<CocoAnnotation>();
        foreach (SceneSample scene in scenes)
        {
            long imageId = ImageId(scene.Index);
            images.Add(new CocoImage(imageId, scene.Width, scene.Height, $"scene-{scene.Index:D6}.png"));
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                SceneObject found = scene.Objects[k];
                if (found.ClassIndex < 0 || found.ClassIndex >= classNames.Count)
                    throw new ArgumentException($"Scene {scene.Index}, object {k}: class {found.ClassIndex} has no name among {classNames.Count} classes.",
                        nameof(classNames));
                if (found.Area == 0) continue;
                annotations.Add(CocoAnnotation.FromMask(annotations.Count + 1, imageId, found.ClassIndex + 1,
                    RleMask.FromPixels(scene.InstanceMaskOf(k), scene.Height, scene.Width)));
            }
        }
        return new CocoDataset(images, annotations, classNames.Select((name, c) => new CocoCategory(c + 1, name)).ToList());
    }
}
