namespace Crate.Transforms.Checkpoints;

/// <summary>Names in error messages: all of them when few, else the first ones and a count of the rest.</summary>
internal static class KeyList
{
    /// <summary>How many names a message lists before "and N more".</summary>
    public const int MaxListed = 10;

    /// <summary>"a, b, c" or "a, b, … and 7 more".</summary>
    public static string Format(IEnumerable<string> names)
    {
        List<string> all = names.ToList();
        string listed = string.Join(", ", all.Take(MaxListed));
        return all.Count > MaxListed ? $"{listed} and {all.Count - MaxListed} more" : listed;
    }
}
