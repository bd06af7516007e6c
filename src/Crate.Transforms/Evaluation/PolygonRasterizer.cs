namespace Crate.Transforms.Evaluation;

/// <summary>
/// pycocotools' polygon-to-RLE algorithm (maskApi rleFrPoly), step for step, so areas and overlaps of COCO polygons
/// agree with it exactly:
/// 1. the vertices are scaled by 5 and rounded (x ↦ (int)(5x + ½), truncating toward zero as C does), the polygon
///    closed, and every edge walked one fine-grid step at a time along its longer axis, the other coordinate rounded
///    the same way (each edge walked from its lower end so both directions give the same points);
/// 2. wherever the walk moves to another fine column, the crossing is mapped back to the pixel grid; it counts only
///    when it falls on a pixel column centre inside the image, and its row is rounded up (clamped to [0, h]);
/// 3. the crossings, as column-major pixel indices x·h + y, are sorted and differenced into runs, alternating 0s and
///    1s, with the image end h·w as the last boundary; empty runs are folded into the next.
/// </summary>
internal static class PolygonRasterizer
{
    private const double Scale = 5;

    public static uint[] Rasterize(ReadOnlySpan<double> xy, int height, int width)
    {
        int k = xy.Length / 2;
        var x = new int[k + 1];
        var y = new int[k + 1];
        for (int j = 0; j < k; j++) x[j] = (int)(Scale * xy[j * 2] + .5);
        for (int j = 0; j < k; j++) y[j] = (int)(Scale * xy[j * 2 + 1] + .5);
        if (k > 0)
        {
            x[k] = x[0];
            y[k] = y[0];
        }

        // 1. Dense points along the outline on the fine grid.
        long points = 0;
        for (int j = 0; j < k; j++) points += Math.Max(Math.Abs(x[j] - x[j + 1]), Math.Abs(y[j] - y[j + 1])) + 1;
        var u = new int[points];
        var v = new int[points];
        int m = 0;
        for (int j = 0; j < k; j++)
        {
            int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
            int dx = Math.Abs(xe - xs), dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip)
            {
                (xs, xe) = (xe, xs);
                (ys, ye) = (ye, ys);
            }
            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
                for (int d = 0; d <= dx; d++)
                {
                    int t = flip ? dx - d : d;
                    u[m] = t + xs;
                    v[m] = (int)(ys + s * t + .5);
                    m++;
                }
            else
                for (int d = 0; d <= dy; d++)
                {
                    int t = flip ? dy - d : d;
                    v[m] = t + ys;
                    u[m] = (int)(xs + s * t + .5);
                    m++;
                }
        }

        // 2. Crossings of pixel column centres, back on the pixel grid.
        var boundaries = new List<uint>();
        for (int j = 1; j < m; j++)
        {
            if (u[j] == u[j - 1]) continue;
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / Scale - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > width - 1) continue;
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / Scale - .5;
            if (yd < 0) yd = 0;
            else if (yd > height) yd = height;
            yd = Math.Ceiling(yd);
            unchecked { boundaries.Add((uint)((int)xd * height + (int)yd)); }
        }

        // 3. Sorted boundaries to runs.
        boundaries.Add(unchecked((uint)((long)height * width)));
        boundaries.Sort();
        uint previous = 0;
        for (int j = 0; j < boundaries.Count; j++)
        {
            uint t = boundaries[j];
            boundaries[j] = unchecked(t - previous);
            previous = t;
        }
        var runs = new List<uint>(boundaries.Count) { boundaries[0] };
        for (int j = 1; j < boundaries.Count;)
        {
            if (boundaries[j] > 0) runs.Add(boundaries[j++]);
            else
            {
                j++;
                if (j < boundaries.Count) runs[^1] += boundaries[j++];
            }
        }
        return runs.ToArray();
    }
}
