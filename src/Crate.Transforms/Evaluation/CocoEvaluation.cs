namespace Crate.Transforms.Evaluation;

/// <summary>
/// COCO detection and instance-segmentation evaluation, computed as pycocotools' COCOeval computes it (box statistics
/// equal to 1e-12, mask statistics to 1e-6 and in practice to the last bit; docs/evaluation.md). Two entry points:
/// files in COCO's annotation and results formats, or the same data in memory as pipelines produce it.
/// </summary>
public static class CocoEvaluation
{
    /// <summary>Evaluates a COCO results file against a COCO instances file with the standard settings.</summary>
    /// <param name="groundTruthJson">The instances file (annotations/instances_*.json).</param>
    /// <param name="detectionsJson">The results file: a JSON array of detections (<see cref="CocoResultsFile.Read(string, CocoDataset)"/>).</param>
    /// <param name="iouType">Compare boxes or masks.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="CocoFormatException">A file is not JSON or not COCO, the results are empty, or a detection is
    /// for an unknown image or category or has a wrongly sized mask; the message names the file, record and problem.</exception>
    public static CocoMetrics Evaluate(string groundTruthJson, string detectionsJson, CocoIouType iouType) =>
        Evaluate(groundTruthJson, detectionsJson, iouType, new CocoEvaluationOptions());

    /// <summary>Evaluates a COCO results file against a COCO instances file.</summary>
    /// <inheritdoc cref="Evaluate(string, string, CocoIouType)"/>
    public static CocoMetrics Evaluate(string groundTruthJson, string detectionsJson, CocoIouType iouType, CocoEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CocoDataset groundTruth = CocoDataset.Load(groundTruthJson);
        IReadOnlyList<CocoDetection> detections = CocoResultsFile.Read(detectionsJson, groundTruth, options, out int skipped);
        return Evaluate(groundTruth, detections, iouType, options, detectionsJson, skipped);
    }

    /// <summary>
    /// Evaluates detections held in memory. A detection's area, unless given, is its box's in box evaluation and its
    /// mask's in mask evaluation (detectron2's convention); a box evaluation without a box takes the box around the mask.
    /// </summary>
    /// <param name="groundTruth">The images, categories and objects.</param>
    /// <param name="detections">The detections, in the order that breaks score ties.</param>
    /// <param name="iouType">Compare boxes or masks.</param>
    /// <param name="options">Settings; null for the standard ones.</param>
    /// <exception cref="CocoFormatException">No detections; a detection without the box or mask the evaluation needs,
    /// with a non-finite score, or (unless skipped) for an unknown image or category or with a wrongly sized mask; an
    /// object without a segmentation in mask evaluation.</exception>
    public static CocoMetrics Evaluate(CocoDataset groundTruth, IEnumerable<CocoDetection> detections, CocoIouType iouType,
        CocoEvaluationOptions? options = null) => Evaluate(groundTruth, detections, iouType, options ?? new CocoEvaluationOptions(), null, 0);

    // detectionsFile names the results file in messages (null in memory); skippedBefore counts what its reader skipped.
    private static CocoMetrics Evaluate(CocoDataset groundTruth, IEnumerable<CocoDetection> detections, CocoIouType iouType,
        CocoEvaluationOptions options, string? detectionsFile, int skippedBefore)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(detections);
        if (!Enum.IsDefined(iouType)) throw new ArgumentOutOfRangeException(nameof(iouType), iouType, "Unknown IoU type.");
        bool masks = iouType == CocoIouType.Segmentation;

        // pycocotools evaluates images and categories in ascending id order.
        long[] imageIds = groundTruth.Images.Select(i => i.Id).Order().ToArray();
        long[] categoryIds = groundTruth.Categories.Select(c => c.Id).Order().ToArray();
        Dictionary<long, int> imageIndex = imageIds.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
        Dictionary<long, int> categoryIndex = categoryIds.Select((id, k) => (id, k)).ToDictionary(p => p.id, p => p.k);
        int K = categoryIds.Length, I = imageIds.Length;

        var objects = new List<CocoEvaluator.GroundTruth>?[K, I];
        for (int n = 0; n < groundTruth.Annotations.Count; n++)
        {
            CocoAnnotation annotation = groundTruth.Annotations[n];
            RleMask? mask = null;
            if (masks)
            {
                string record = $"annotations[{n}] (id {annotation.Id})";
                CocoImage image = groundTruth.FindImage(annotation.ImageId)!;
                if (annotation.Segmentation is null)
                    throw new CocoFormatException(groundTruth.FilePath, record, "no \"segmentation\"; mask evaluation needs one for every object.");
                try
                {
                    mask = annotation.Segmentation.ToRle(image.Height, image.Width);
                }
                catch (ArgumentException e)
                {
                    throw new CocoFormatException(groundTruth.FilePath, record, CocoJsonRecord.Plain(e));
                }
            }
            int k = categoryIndex[annotation.CategoryId], i = imageIndex[annotation.ImageId];
            (objects[k, i] ??= []).Add(new CocoEvaluator.GroundTruth(annotation.Id, annotation.Area, annotation.IsCrowd, annotation.Box, mask));
        }

        var found = new List<CocoEvaluator.Detection>?[K + 1, I]; // row K: categories the ground truth lacks (class-agnostic only)
        int count = 0, skipped = skippedBefore;
        foreach (CocoDetection detection in detections)
        {
            int index = count++;
            if (detection is null) throw new CocoFormatException(detectionsFile, $"detections[{index}]", "null.");
            string record = detectionsFile is null ? $"detections[{index}]"
                : skippedBefore == 0 ? $"[{index}]" : $"detection {index} of those kept after skipping {skippedBefore}";
            string? problem = null;
            CocoImage? image = groundTruth.FindImage(detection.ImageId);
            if (image is null) problem = $"image_id {detection.ImageId} is not in the ground truth";
            else if (!options.ClassAgnostic && !categoryIndex.ContainsKey(detection.CategoryId))
                problem = $"category_id {detection.CategoryId} is not in the ground truth";
            else if (detection.Mask is { } m && (m.Height != image.Height || m.Width != image.Width))
                problem = $"the mask is {m.Height}×{m.Width} but image {image.Id} is {image.Height}×{image.Width}";
            if (problem is not null)
            {
                if (!options.SkipInvalidDetections) throw new CocoFormatException(detectionsFile, record, problem + ".");
                skipped++;
                options.Log?.Invoke($"{(detectionsFile is null ? "" : detectionsFile + ": ")}{record}: skipped: {problem}.");
                continue;
            }
            if (!double.IsFinite(detection.Score))
                throw new CocoFormatException(detectionsFile, record, $"score {detection.Score} is not a finite number.");
            if (masks && detection.Mask is null)
                throw new CocoFormatException(detectionsFile, record, "no mask; mask evaluation needs one for every detection.");
            if (detection.Box is null && detection.Mask is null)
                throw new CocoFormatException(detectionsFile, record, "neither a box nor a mask.");
            CocoBox box = detection.Box ?? detection.Mask!.BoundingBox();
            double area = detection.Area ?? (masks ? detection.Mask!.Area : box.Area);
            int k = categoryIndex.TryGetValue(detection.CategoryId, out int known) ? known : K;
            (found[k, imageIndex[detection.ImageId]] ??= []).Add(new CocoEvaluator.Detection(detection.Score, area, box, detection.Mask));
        }
        if (count == skipped - skippedBefore)
            throw new CocoFormatException(detectionsFile, null, skipped == 0 ? "no detections to evaluate."
                : $"all {skipped} detections were skipped as invalid; nothing to evaluate.");

        (IReadOnlyList<CocoEvaluator.GroundTruth>?, IReadOnlyList<CocoEvaluator.Detection>?)[][] groups;
        if (options.ClassAgnostic)
        {
            // pycocotools' useCats = 0: per image, the objects and detections of every category, category by category.
            var pooled = new (IReadOnlyList<CocoEvaluator.GroundTruth>?, IReadOnlyList<CocoEvaluator.Detection>?)[I];
            for (int i = 0; i < I; i++)
            {
                var gts = new List<CocoEvaluator.GroundTruth>();
                var dts = new List<CocoEvaluator.Detection>();
                for (int k = 0; k <= K; k++)
                {
                    if (k < K && objects[k, i] is { } o) gts.AddRange(o);
                    if (found[k, i] is { } d) dts.AddRange(d);
                }
                pooled[i] = (gts, dts);
            }
            groups = [pooled];
        }
        else
        {
            groups = new (IReadOnlyList<CocoEvaluator.GroundTruth>?, IReadOnlyList<CocoEvaluator.Detection>?)[K][];
            for (int k = 0; k < K; k++)
            {
                groups[k] = new (IReadOnlyList<CocoEvaluator.GroundTruth>?, IReadOnlyList<CocoEvaluator.Detection>?)[I];
                for (int i = 0; i < I; i++) groups[k][i] = (objects[k, i], found[k, i]);
            }
        }

        (double[] s, double?[] groupAP) = CocoEvaluator.Evaluate(groups, iouType);
        var perCategory = new Dictionary<long, double>();
        if (!options.ClassAgnostic)
            for (int k = 0; k < K; k++)
                if (groupAP[k] is double ap) perCategory[categoryIds[k]] = ap;
        return new CocoMetrics(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11])
        {
            PerCategoryAP = perCategory,
            IouType = iouType,
            SkippedDetections = skipped,
        };
    }
}
