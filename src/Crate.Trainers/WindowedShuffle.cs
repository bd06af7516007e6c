using Crate.Trainers.Augmentation;

namespace Crate.Trainers;

/// <summary>
/// The order in which a stream of rows is served by a shuffle window: the first <c>window</c> rows fill a pool,
/// each step serves a random row of the pool and the next row of the stream takes its place. It only needs the
/// row count and the random draws, so the whole order is known before any image is decoded: a resumed run
/// skips the rows already served without decoding them, and at most <c>window</c> decoded rows wait at a time.
/// (ML.NET's ShuffleRows cannot serve here: it drops columns it cannot cache, images among them.)
/// </summary>
internal static class WindowedShuffle
{
    /// <summary>Row index served at each position 0 … count − 1.</summary>
    public static int[] Order(int count, int window, SplitMix64 random)
    {
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "The shuffle window must hold at least one row.");
        var order = new int[count];
        var pool = new List<int>(Math.Min(window, count));
        int next = 0;
        while (next < count && pool.Count < window) pool.Add(next++);
        for (int position = 0; position < count; position++)
        {
            int pick = random.NextInt(pool.Count);
            order[position] = pool[pick];
            if (next < count)
            {
                pool[pick] = next++;
            }
            else
            {
                pool[pick] = pool[^1];
                pool.RemoveAt(pool.Count - 1);
            }
        }
        return order;
    }
}
