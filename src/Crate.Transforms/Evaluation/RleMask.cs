using Crate.Transforms.Segmentation;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// A binary mask as COCO stores it: run-length encoded in column-major order (down the first column, then the
/// next), runs alternating between 0s and 1s and starting with 0s (a first count of 0 when the mask starts with a 1).
/// The counts add up to Height·Width. Areas, boxes, unions, intersections and overlaps are computed on the runs, never
/// on pixels, with the arithmetic of pycocotools' maskApi so that every number agrees with it exactly.
/// </summary>
public sealed class RleMask
{
    private readonly uint[] counts;

    /// <summary>Checks and copies <paramref name="counts"/>.</summary>
    /// <param name="height">Rows h (positive).</param>
    /// <param name="width">Columns w (positive).</param>
    /// <param name="counts">Run lengths, 0s first; they must add up to h·w.</param>
    /// <exception cref="ArgumentException">The counts do not add up to h·w.</exception>
    public RleMask(int height, int width, ReadOnlySpan<uint> counts) : this(height, width, counts.ToArray(), validate: true)
    {
    }

    private RleMask(int height, int width, uint[] counts, bool validate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Height = height;
        Width = width;
        this.counts = counts;
        if (validate)
        {
            long sum = 0;
            foreach (uint c in counts) sum += c;
            if (sum != (long)height * width)
                throw new ArgumentException(
                    $"RLE counts add up to {sum}, not h·w = {height}·{width} = {(long)height * width}.", nameof(counts));
        }
    }

    /// <summary>Takes ownership of counts known to add up to h·w (made here), without a copy or a check.</summary>
    internal static RleMask Wrap(int height, int width, uint[] counts) => new(height, width, counts, validate: false);

    /// <summary>Rows h.</summary>
    public int Height { get; }

    /// <summary>Columns w.</summary>
    public int Width { get; }

    /// <summary>The run lengths, 0s first, column-major.</summary>
    public ReadOnlySpan<uint> Counts => counts;

    /// <summary>Pixels set: the sum of the odd-indexed counts (maskApi rleArea).</summary>
    public long Area
    {
        get
        {
            long area = 0;
            for (int j = 1; j < counts.Length; j += 2) area += counts[j];
            return area;
        }
    }

    /// <summary>Encodes a row-major mask (as <see cref="BinaryMask"/> holds it) column-major (maskApi rleEncode).</summary>
    public static RleMask FromPixels(BinaryMask mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        return FromPixels(mask.Cells, mask.Height, mask.Width);
    }

    /// <summary>Encodes <paramref name="height"/>·<paramref name="width"/> row-major pixels column-major.</summary>
    public static RleMask FromPixels(ReadOnlySpan<bool> rowMajor, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (rowMajor.Length != height * width)
            throw new ArgumentException($"Expected {height}·{width} = {height * width} pixels, got {rowMajor.Length}.", nameof(rowMajor));
        var runs = new List<uint>();
        bool previous = false;
        uint run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                bool pixel = rowMajor[y * width + x];
                if (pixel != previous)
                {
                    runs.Add(run);
                    run = 0;
                    previous = pixel;
                }
                run++;
            }
        runs.Add(run);
        return Wrap(height, width, runs.ToArray());
    }

    /// <summary>The pixels, row-major.</summary>
    public BinaryMask ToPixels()
    {
        var pixels = new bool[Height * Width];
        long position = 0;
        for (int j = 0; j < counts.Length; j++)
        {
            if (j % 2 == 1)
                for (long p = position; p < position + counts[j]; p++)
                {
                    long x = p / Height, y = p % Height;
                    pixels[y * Width + x] = true;
                }
            position += counts[j];
        }
        return BinaryMask.Wrap(Height, Width, pixels);
    }

    /// <summary>Decodes the "counts" string of a compressed COCO RLE (<see cref="ToCompressedString"/>).</summary>
    /// <exception cref="FormatException">The string is not a valid encoding, or its counts do not add up to h·w.</exception>
    public static RleMask FromCompressedString(string compressed, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        uint[] runs = RleStringCodec.Decode(compressed);
        long sum = 0;
        foreach (uint c in runs) sum += c;
        if (sum != (long)height * width)
            throw new FormatException($"RLE counts add up to {sum}, not h·w = {height}·{width} = {(long)height * width}.");
        return Wrap(height, width, runs);
    }

    /// <summary>The "counts" string of COCO's compressed RLE (maskApi rleToString): each count, from the fourth on
    /// as the difference to the count two before it, in a LEB128-like code of 5 bits per character (ASCII 48-111),
    /// bit 6 meaning "more characters follow" and bit 5 of the last character the sign.</summary>
    public string ToCompressedString() => RleStringCodec.Encode(counts);

    /// <summary>
    /// Rasterises a polygon exactly as pycocotools' rleFrPoly does, so areas and overlaps agree with COCO's tools: the
    /// outline is drawn on a 5× finer grid, and a pixel is set where the outline's crossings of its column, taken in
    /// pairs from the top, enclose the pixel centre.
    /// </summary>
    /// <param name="xy">x₀, y₀, x₁, y₁, … in pixels; an odd trailing number is ignored, as pycocotools does.</param>
    /// <param name="height">Image rows.</param>
    /// <param name="width">Image columns.</param>
    public static RleMask FromPolygon(ReadOnlySpan<double> xy, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        return Wrap(height, width, PolygonRasterizer.Rasterize(xy, height, width));
    }

    /// <summary>The union of <see cref="FromPolygon"/> over the parts of one object (pycocotools frPyObjects, then merge).</summary>
    public static RleMask FromPolygons(IReadOnlyList<double[]> polygons, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(polygons);
        if (polygons.Count == 0) throw new ArgumentException("An object needs at least one polygon.", nameof(polygons));
        return Merge(polygons.Select(p => FromPolygon(p, height, width)).ToList(), intersect: false);
    }

    /// <summary>
    /// The box around the set pixels as maskApi rleToBbox computes it: whole pixels, so a mask covering columns
    /// 3-5 gives x = 3, width = 3; all zeros for an empty mask. Like maskApi, a run of 1s that wraps from one column
    /// into the next extends the box over the full height, even if the run itself is short.
    /// </summary>
    public CocoBox BoundingBox()
    {
        unchecked
        {
            uint h = (uint)Height, w = (uint)Width;
            int m = counts.Length / 2 * 2;
            if (m == 0) return new CocoBox(0, 0, 0, 0);
            uint xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
            for (int j = 0; j < m; j++)
            {
                cc += counts[j];
                uint t = cc - (uint)(j % 2);
                uint y = t % h, x = (t - y) / h;
                if (j % 2 == 0) xp = x;
                else if (xp < x) { ys = 0; ye = h - 1; }
                xs = Math.Min(xs, x);
                xe = Math.Max(xe, x);
                ys = Math.Min(ys, y);
                ye = Math.Max(ye, y);
            }
            return new CocoBox(xs, ys, xe - xs + 1, ye - ys + 1);
        }
    }

    /// <summary>
    /// The union (or intersection) of masks of one size, by walking their runs together (maskApi rleMerge); one
    /// mask is returned as it is.
    /// </summary>
    /// <exception cref="ArgumentException">No masks, or masks of different sizes.</exception>
    public static RleMask Merge(IReadOnlyList<RleMask> masks, bool intersect)
    {
        ArgumentNullException.ThrowIfNull(masks);
        if (masks.Count == 0) throw new ArgumentException("Nothing to merge.", nameof(masks));
        RleMask first = masks[0];
        if (masks.Any(m => m.Height != first.Height || m.Width != first.Width))
            throw new ArgumentException("Masks of different sizes cannot be merged.", nameof(masks));
        if (masks.Count == 1) return first;
        uint[] merged = first.counts;
        var output = new List<uint>();
        for (int i = 1; i < masks.Count; i++)
        {
            uint[] a = merged, b = masks[i].counts;
            output.Clear();
            unchecked
            {
                uint ca = a[0], cb = b[0], cc = 0, ct = 1;
                bool v = false, va = false, vb = false;
                int ia = 1, ib = 1;
                while (ct > 0)
                {
                    uint c = Math.Min(ca, cb);
                    cc += c;
                    ct = 0;
                    ca -= c;
                    if (ca == 0 && ia < a.Length) { ca = a[ia++]; va = !va; }
                    ct += ca;
                    cb -= c;
                    if (cb == 0 && ib < b.Length) { cb = b[ib++]; vb = !vb; }
                    ct += cb;
                    bool vp = v;
                    v = intersect ? va && vb : va || vb;
                    if (v != vp || ct == 0) { output.Add(cc); cc = 0; }
                }
            }
            merged = output.ToArray();
        }
        return Wrap(first.Height, first.Width, merged);
    }

    /// <summary>
    /// pycocotools' mask overlap (maskApi rleIou): |d ∩ g| / |d ∪ g|, or |d ∩ g| / |d| when the ground truth is a
    /// crowd region; 0 when the masks do not meet. Runs are walked, pixels never decoded.
    /// </summary>
    /// <exception cref="ArgumentException">The masks differ in size (maskApi would return −1).</exception>
    public static double IntersectionOverUnion(RleMask detection, RleMask groundTruth, bool groundTruthIsCrowd)
    {
        ArgumentNullException.ThrowIfNull(detection);
        ArgumentNullException.ThrowIfNull(groundTruth);
        if (detection.Height != groundTruth.Height || detection.Width != groundTruth.Width)
            throw new ArgumentException(
                $"Masks of different sizes: {detection.Height}×{detection.Width} and {groundTruth.Height}×{groundTruth.Width}.", nameof(groundTruth));
        return Overlap(detection, groundTruth, groundTruthIsCrowd);
    }

    /// <summary>rleIou's inner walk for two masks of one size (already checked).</summary>
    internal static double Overlap(RleMask detection, RleMask groundTruth, bool groundTruthIsCrowd)
    {
        uint[] d = detection.counts, g = groundTruth.counts;
        unchecked
        {
            uint ca = d[0], cb = g[0], ct = 1, intersection = 0, union = 0;
            bool va = false, vb = false;
            int a = 1, b = 1;
            while (ct > 0)
            {
                uint c = Math.Min(ca, cb);
                if (va || vb)
                {
                    union += c;
                    if (va && vb) intersection += c;
                }
                ct = 0;
                ca -= c;
                if (ca == 0 && a < d.Length) { ca = d[a++]; va = !va; }
                ct += ca;
                cb -= c;
                if (cb == 0 && b < g.Length) { cb = g[b++]; vb = !vb; }
                ct += cb;
            }
            if (intersection == 0) union = 1;
            else if (groundTruthIsCrowd) union = (uint)detection.Area;
            return (double)intersection / union;
        }
    }
}
