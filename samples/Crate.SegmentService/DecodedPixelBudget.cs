namespace Crate.SegmentService;

/// <summary>
/// Bounds the pixels of the decoded images that requests hold at once (<see cref="SegmentationServiceOptions.MaxDecodedPixelsInFlight"/>).
/// A request takes its image's width·height from the budget after reading the file's header and before decoding, and
/// gives it back once its response is made; a request that does not fit waits, first come first served, so a large
/// image is not starved by a stream of small ones. An image larger than the whole budget waits for all others and
/// then runs alone. When the last request of a burst that held large images finishes, the garbage collector is asked
/// to compact and give its free memory back to the system: a prediction's large buffers (the image's float planes of
/// each read-out) live in the large-object heap, which the server GC otherwise keeps for the next burst.
/// </summary>
public sealed class DecodedPixelBudget
{
    /// <summary>A burst that held at least this many pixels at once is worth a compacting collection after it: 1024·1024.</summary>
    public const long LargeBurstPixels = 1L << 20;

    private readonly object gate = new();
    private readonly LinkedList<(long Pixels, TaskCompletionSource Granted)> waiting = new();
    private long available;
    private long largestHeld;
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

    /// <summary>Compacting collections made after bursts of large images.</summary>
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

    private void Take(long pixels)
    {
        available -= pixels;
        largestHeld = Math.Max(largestHeld, Capacity - available);
    }

    private void Release(long pixels)
    {
        bool burstOver;
        lock (gate)
        {
            Give(pixels);
            GrantWaiting();
            burstOver = available == Capacity && largestHeld >= LargeBurstPixels;
            if (burstOver) largestHeld = 0;
        }
        if (burstOver)
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
