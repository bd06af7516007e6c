namespace Crate.Transforms.Segmentation;

/// <summary>The 4-connected component of a grid partition that holds a given patch (spec: MaskCut keeps only the
/// component containing the seed).</summary>
internal static class ConnectedComponent
{
    /// <summary>The cells of <paramref name="side"/> reachable from <paramref name="seed"/> by steps up, down, left
    /// and right through cells of <paramref name="side"/>, which must hold the seed.</summary>
    public static BinaryMask Containing(bool[] side, int height, int width, int seed)
    {
        if (!side[seed]) throw new ArgumentException($"The seed {seed} is not in the partition.", nameof(seed));
        var component = new bool[height * width];
        var frontier = new Stack<int>();
        component[seed] = true;
        frontier.Push(seed);
        while (frontier.Count > 0)
        {
            int cell = frontier.Pop();
            int row = cell / width, column = cell % width;
            if (row > 0) Visit(cell - width);
            if (row + 1 < height) Visit(cell + width);
            if (column > 0) Visit(cell - 1);
            if (column + 1 < width) Visit(cell + 1);
        }
        return BinaryMask.Wrap(height, width, component);

        void Visit(int neighbour)
        {
            if (!side[neighbour] || component[neighbour]) return;
            component[neighbour] = true;
            frontier.Push(neighbour);
        }
    }
}
