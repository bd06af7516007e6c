using System.Text;

namespace Crate.Transforms.Datasets;

/// <summary>
/// One of <see cref="Count"/> parts of a dataset, for a run split over machines (a Kubernetes Indexed Job, a Slurm
/// array): the record whose key is <c>k</c> belongs to shard <c>FNV-1a-64(UTF-8(k)) mod Count</c>. The key is the
/// record's name (for <see cref="ImageFolder"/>, the path relative to the folder without the extension).
/// </summary>
/// <remarks>
/// Why a hash of the name and not "every N-th name in sorted order": both are independent of the order in which the
/// file system lists the files, but a hash is also independent of the other names. An image added to (or removed
/// from) the dataset changes no other image's shard, so every other shard's finished work stays valid; with sorted
/// positions one insertion moves every later image to another shard. The price is shards of unequal size: with n
/// images each shard holds n/N ± √(n/N) (binomially), 5 % spread at 500 images a shard. FNV-1a (64-bit offset basis
/// 14695981039346656037, prime 1099511628211, xor then multiply per byte) is specified in a few lines, so a script
/// on the cluster side can compute the same partition.
/// </remarks>
public sealed class ShardPartition
{
    private const ulong OffsetBasis = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    /// <summary>Shard <paramref name="index"/> (0-based) of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count below 1, or an index outside 0…count−1.</exception>
    public ShardPartition(int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "The shard count must be at least 1.");
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The shard index must be 0…{count - 1} for {count} shards.");
        Index = index;
        Count = count;
    }

    /// <summary>The whole dataset: shard 0 of 1.</summary>
    public static ShardPartition Whole { get; } = new(0, 1);

    /// <summary>The shard's index, 0…<see cref="Count"/>−1.</summary>
    public int Index { get; }

    /// <summary>The number of shards.</summary>
    public int Count { get; }

    /// <summary>Whether the record named <paramref name="key"/> belongs to this shard.</summary>
    public bool Contains(string key) => ShardOf(key, Count) == Index;

    /// <summary>The shard, 0…<paramref name="count"/>−1, of the record named <paramref name="key"/>.</summary>
    public static int ShardOf(string key, int count)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return (int)(Fnv1a64(key) % (ulong)count);
    }

    /// <summary>The 64-bit FNV-1a hash of the UTF-8 bytes of <paramref name="key"/>.</summary>
    public static ulong Fnv1a64(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ulong hash = OffsetBasis;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            hash ^= b;
            hash *= Prime;
        }
        return hash;
    }

    /// <summary>"shard i of N".</summary>
    public override string ToString() => $"shard {Index} of {Count}";
}
