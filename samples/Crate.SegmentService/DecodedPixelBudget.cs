namespace Crate.SegmentService;

/// <summary>
/// Bounds the pixels of the decoded images that requests hold at once (<see cref="SegmentationServiceOptions.MaxDecodedPixelsInFlight"/>).
/// A request takes its image's width·height from the budget after reading the file's header and before decoding, and
/// gives it back once its response is made; a request that does not fit waits, first come first served, so a large
/// image is not starved by a stream of small ones. An image larger than the whole budget waits for all others and
/// then runs alone. After each request that held a large image, the garbage collector is asked to compact and give
/// its free memory back to the system: a prediction's large buffers (the image's float planes of each read-out, its
/// masks at the image's size) live in the large-object heap, which is otherwise collected only when its budget runs
/// out (measured: one 4096×4096 image at a time still peaked 2.7 GB above idle) and kept for the next burst.
/// </summary>
public sealed class DecodedPixelBudget
{
    /// <summary>A request that held at least this many pixels is worth a compacting collection after it: 1024·1024
    /// (a collection takes milliseconds, such a prediction seconds).</summary>
    public const long LargeImagePixels = 1L << 20;

    private readonly object gate = new();
    private readonly LinkedList<(long Pixels, TaskCompletionSource Granted)> waiting = new();
    private long available;
    private int memoryReturns;

    /// <summary>Creates a budget of <paramref name="capacity"/> pixels.</summary>
    public DecodedPixelBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = available = capacity;
    }

    /// <summary>The pixels that may be held at once.</summary>
    public long Capacity { get; }

    /// <summary>The pixels held now.</summary>
    public long InFlight
    {
        get
        {
            lock (gate) return Capacity - available;
        }
    }

    /// <summary>Compacting collections made after requests that held large images.</summary>
    public int MemoryReturns => Volatile.Read(ref memoryReturns);

    /// <summary>Waits until <paramref name="pixels"/> (at most the whole budget) are free and takes them; dispose the lease to give them back.</summary>
    public async Task<IDisposable> AcquireAsync(long pixels, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels, 0);
        long taken = Math.Min(pixels, Capacity);
        LinkedListNode<(long, TaskCompletionSource)> node;
        lock (gate)
        {
            if (waiting.Count == 0 && available >= taken)
            {
                Take(taken);
                return new Lease(this, taken);
            }
            node = waiting.AddLast((taken, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));
        }
        try
        {
            await node.Value.Item2.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (gate)
            {
                // Granted in the meantime: the pixels are this request's and go back now.
                if (node.List is null) Give(taken);
                else waiting.Remove(node);
                GrantWaiting();
            }
            throw;
        }
        return new Lease(this, taken);
    }

    private void Take(long pixels) => available -= pixels;

    private void Release(long pixels)
    {
        lock (gate)
        {
            Give(pixels);
            GrantWaiting();
        }
        if (pixels >= LargeImagePixels)
        {
            Interlocked.Increment(ref memoryReturns);
            // Off the request's thread: the response is already made, and a collection of the whole heap takes a moment.
            _ = Task.Run(() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true));
        }
    }

    private void Give(long pixels) => available += pixels;

    private void GrantWaiting()
    {
        while (waiting.First is { } first && available >= first.Value.Pixels)
        {
            waiting.RemoveFirst();
            Take(first.Value.Pixels);
            first.Value.Granted.SetResult();
        }
    }

    private sealed class Lease(DecodedPixelBudget budget, long pixels) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) budget.Release(pixels);
        }
    }
}
