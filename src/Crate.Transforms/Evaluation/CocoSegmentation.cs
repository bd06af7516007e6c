namespace Crate.Transforms.Evaluation;

/// <summary>
/// An object's outline as COCO annotates it: polygons (one object may have several parts) or a run-length encoded
/// mask (crowd regions, and any mask that was encoded rather than drawn).
/// </summary>
public sealed class CocoSegmentation
{
    private CocoSegmentation(IReadOnlyList<double[]>? polygons, RleMask? rle)
    {
        Polygons = polygons;
        Rle = rle;
    }

    /// <summary>The polygons, each x₀, y₀, x₁, y₁, … in pixels; null for an RLE segmentation.</summary>
    public IReadOnlyList<double[]>? Polygons { get; }

    /// <summary>The mask; null for a polygon segmentation.</summary>
    public RleMask? Rle { get; }

    /// <summary>
    /// Polygons. Each needs an even count of numbers; the first at least three points, since pycocotools fails on a
    /// shorter first polygon (it takes four numbers for a box and then rejects the list). Later ones may be shorter, as
    /// some COCO objects have: pycocotools rasterises them (a segment covers at most a line of pixels), and so do we.
    /// </summary>
    /// <exception cref="ArgumentException">No polygons, an odd count of numbers, a first polygon of fewer than three
    /// points, or a coordinate that is not a finite number.</exception>
    public static CocoSegmentation FromPolygons(IReadOnlyList<double[]> polygons)
    {
        ArgumentNullException.ThrowIfNull(polygons);
        if (polygons.Count == 0) throw new ArgumentException("an empty list of polygons.", nameof(polygons));
        for (int i = 0; i < polygons.Count; i++)
        {
            double[] xy = polygons[i] ?? throw new ArgumentException($"polygon {i} is null.", nameof(polygons));
            if (xy.Length % 2 != 0)
                throw new ArgumentException($"polygon {i} has an odd count of numbers ({xy.Length}); expected x, y pairs.", nameof(polygons));
            if (i == 0 && xy.Length < 6)
                throw new ArgumentException($"polygon 0 has {xy.Length / 2} point(s); the first polygon needs at least 3.", nameof(polygons));
            if (xy.Any(c => !double.IsFinite(c)))
                throw new ArgumentException($"polygon {i} has a coordinate that is not a finite number.", nameof(polygons));
        }
        return new CocoSegmentation(polygons.Select(p => (double[])p.Clone()).ToArray(), null);
    }

    /// <summary>A run-length encoded mask.</summary>
    public static CocoSegmentation FromRle(RleMask rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        return new CocoSegmentation(null, rle);
    }

    /// <summary>
    /// The mask over an image of <paramref name="height"/>×<paramref name="width"/>, as pycocotools' annToRLE makes
    /// it: each polygon rasterised (<see cref="RleMask.FromPolygon"/>) and the parts merged; an RLE as it is.
    /// </summary>
    /// <exception cref="ArgumentException">An RLE whose size is not the image's.</exception>
    public RleMask ToRle(int height, int width)
    {
        if (Rle is not null)
            return Rle.Height == height && Rle.Width == width
                ? Rle
                : throw new ArgumentException($"the RLE is {Rle.Height}×{Rle.Width} but the image is {height}×{width}.");
        return RleMask.FromPolygons(Polygons!, height, width);
    }
}
