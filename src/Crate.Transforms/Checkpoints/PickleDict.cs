namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A Python dict (or OrderedDict) read from a pickle, in insertion order. String keys are unique as in Python;
/// other keys (optimizer state uses ints) are only ever inspected in order, so they are kept as they come.
/// </summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> entries = new();
    private readonly Dictionary<string, int> stringKeys = new(StringComparer.Ordinal);

    /// <summary>The entries in insertion order.</summary>
    public IReadOnlyList<KeyValuePair<object?, object?>> Entries => entries;

    /// <summary>Sets <paramref name="key"/>; a repeated string key replaces its value in place, as in Python.</summary>
    public void Set(object? key, object? value)
    {
        if (key is string text)
        {
            if (stringKeys.TryGetValue(text, out int index))
            {
                entries[index] = new KeyValuePair<object?, object?>(key, value);
                return;
            }
            stringKeys[text] = entries.Count;
        }
        entries.Add(new KeyValuePair<object?, object?>(key, value));
    }

    /// <summary>The value of a string key, if present.</summary>
    public bool TryGetValue(string key, out object? value)
    {
        bool found = stringKeys.TryGetValue(key, out int index);
        value = found ? entries[index].Value : null;
        return found;
    }
}
