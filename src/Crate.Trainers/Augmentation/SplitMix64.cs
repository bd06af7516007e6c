namespace Crate.Trainers.Augmentation;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator whose output is fixed by its seed on every
/// platform and .NET version (System.Random's algorithm is not promised). Training derives one from
/// (seed, epoch, row), so shuffling and augmentation need no saved state to be resumed exactly.
/// </summary>
internal struct SplitMix64
{
    private ulong state;

    /// <summary>Starts the sequence at <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => state = seed;

    /// <summary>The generator for item <paramref name="index"/> of epoch <paramref name="epoch"/> of a run seeded with <paramref name="seed"/>.</summary>
    public static SplitMix64 For(ulong seed, long epoch, long index)
    {
        var mixer = new SplitMix64(seed);
        ulong a = mixer.NextUInt64() ^ (ulong)epoch;
        mixer = new SplitMix64(a);
        ulong b = mixer.NextUInt64() ^ (ulong)index;
        return new SplitMix64(new SplitMix64(b).NextUInt64());
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double NextDouble(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, <paramref name="count"/>).</summary>
    public int NextInt(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The range is empty.");
        return (int)(NextDouble() * count);
    }

    /// <summary>A uniformly random permutation of 0 … n − 1 (Fisher–Yates), fixed by <paramref name="seed"/>.</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        var random = new SplitMix64(seed);
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
