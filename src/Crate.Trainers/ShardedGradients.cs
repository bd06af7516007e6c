using Crate.Transforms;
using Crate.Transforms.Network;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// A CPU training step's loss and gradients computed as the sum over shards of the batch, each shard on a thread of
/// its own that runs libtorch single-threaded (data parallelism inside one process). At the emergence setting, libtorch's own
/// intra-op threads kept two cores only partly busy: its many small kernels each fork and join both cores, and the
/// .NET side that dispatches them runs on one. Whole shards on whole cores trained CRATE 1.06-1.35× and ViT 1.26-1.72×
/// as many images per second as the batch whole in the same process, on 2 cores (docs/performance.md). Shard i's loss is its mean cross-entropy weighted by its share of the batch, so the
/// summed loss and gradients are the whole batch's mean and its gradient; the gradients are added in shard order on
/// the calling thread, so a run is deterministic for a given shard count.
/// </summary>
/// <remarks>
/// libtorch sets a thread's count when the thread first asks for it, from a process-wide value that
/// <c>torch.set_num_threads</c> also changes. Each worker therefore first takes its count, then sets 1 for itself, and
/// the constructor puts the process-wide value back once every worker has done so: other threads keep their count.
/// </remarks>
internal sealed class ShardedGradients : IDisposable
{
    private readonly CrateModel model;
    private readonly Parameter[] trained;
    private readonly double labelSmoothing;
    private readonly Thread[] workers;
    private readonly SemaphoreSlim[] start;
    private readonly CountdownEvent finished;
    private readonly ShardResult?[] results;
    private readonly Exception?[] errors;
    private (Tensor Images, Tensor Labels, long[] Offsets)? batch;
    private bool stopping;

    /// <summary>Starts <paramref name="shards"/> worker threads (at least 2) for the network's trained parameters.</summary>
    public ShardedGradients(CrateModel model, Parameter[] trained, double labelSmoothing, int shards)
    {
        if (shards < 2) throw new ArgumentOutOfRangeException(nameof(shards), shards, "Sharding needs at least two shards.");
        this.model = model;
        this.trained = trained;
        this.labelSmoothing = labelSmoothing;
        int processThreads = torch.get_num_threads();
        start = Enumerable.Range(0, shards).Select(_ => new SemaphoreSlim(0)).ToArray();
        finished = new CountdownEvent(shards);
        results = new ShardResult?[shards];
        errors = new Exception?[shards];
        using var ready = new CountdownEvent(shards);
        workers = Enumerable.Range(0, shards).Select(i => new Thread(() => Work(i, ready)) { IsBackground = true, Name = $"CRATE shard {i}" }).ToArray();
        foreach (Thread worker in workers) worker.Start();
        ready.Wait();
        torch.set_num_threads(processThreads);
    }

    /// <summary>Shards the trainer uses: <see cref="CrateTrainerOptions.NumberOfThreads"/>, or the processor count.</summary>
    public static int CountFor(CrateTrainerOptions options) => options.NumberOfThreads ?? Environment.ProcessorCount;

    /// <summary>
    /// Sets every trained parameter's gradient to the batch's (adding into the zeroed gradient), and returns the batch's
    /// mean loss and the number of correct predictions, both as tensors that stay in the caller's dispose scope.
    /// </summary>
    public (Tensor Loss, Tensor Correct) Backward(Tensor images, Tensor labels)
    {
        long count = images.shape[0];
        int shards = (int)Math.Min(workers.Length, count);
        // Sizes as even as they go: the first count % shards shards take one image more.
        long[] offsets = new long[shards + 1];
        for (int i = 0; i < shards; i++) offsets[i + 1] = offsets[i] + count / shards + (i < count % shards ? 1 : 0);
        batch = (images, labels, offsets);
        Array.Clear(results);
        Array.Clear(errors);
        finished.Reset(workers.Length);
        foreach (SemaphoreSlim signal in start) signal.Release();
        finished.Wait();
        batch = null;
        try
        {
            if (errors.FirstOrDefault(e => e is not null) is Exception error)
                throw new InvalidOperationException($"A training shard failed: {error.Message}", error);
            using (no_grad())
            {
                for (int p = 0; p < trained.Length; p++)
                {
                    Tensor? sum = null;
                    for (int i = 0; i < shards; i++)
                        if (results[i]!.Gradients[p] is Tensor gradient)
                            sum = sum is null ? gradient : sum.Plus(gradient);
                    if (sum is null) continue;
                    if (trained[p].grad is Tensor existing)
                        existing.PlusInPlace(sum);
                    else // a copy: a lone shard's gradient set as is came back doubled from the next backward into it (the [CLS] token's, one image)
                        trained[p].grad = sum.clone();
                }
            }
            // New handles in the caller's scope on the first shard's values, which outlive the shards' own handles.
            Tensor loss = results[0]!.Loss.detach(), correct = results[0]!.Correct.detach();
            for (int i = 1; i < shards; i++)
            {
                loss = loss.Plus(results[i]!.Loss);
                correct = correct.Plus(results[i]!.Correct);
            }
            return (loss, correct);
        }
        finally
        {
            // The shards' tensors were made on the workers, outside the caller's scope; the sums above are in it.
            foreach (ShardResult? result in results) result?.Dispose();
        }
    }

    private void Work(int index, CountdownEvent ready)
    {
        torch.get_num_threads(); // this thread's own count is now set, from the process-wide value
        torch.set_num_threads(1);
        ready.Signal();
        while (true)
        {
            start[index].Wait();
            if (stopping) return;
            try
            {
                if (batch is var (images, labels, offsets) && index < offsets.Length - 1)
                    results[index] = Shard(images, labels, offsets[index], offsets[index + 1] - offsets[index], images.shape[0]);
            }
            catch (Exception e)
            {
                errors[index] = e;
            }
            finally
            {
                finished.Signal();
            }
        }
    }

    private ShardResult Shard(Tensor images, Tensor labels, long offset, long size, long count)
    {
        using var scope = NewDisposeScope();
        Tensor logits = model.forward(images.narrow(0, offset, size));
        Tensor shardLabels = labels.narrow(0, offset, size);
        using Scalar share = ((double)size / count).ToScalar(); // held for the call (HeldScalars)
        Tensor loss = nn.functional.cross_entropy(logits, shardLabels, label_smoothing: labelSmoothing).mul(share);
        IList<Tensor> gradients = torch.autograd.grad([loss], trained, allow_unused: true);
        Tensor correct = logits.argmax(-1).eq(shardLabels).sum();
        var result = new ShardResult(loss.detach(), correct, gradients.ToArray());
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        stopping = true;
        foreach (SemaphoreSlim signal in start) signal.Release();
        foreach (Thread worker in workers) worker.Join();
        foreach (SemaphoreSlim signal in start) signal.Dispose();
        finished.Dispose();
    }

    /// <summary>One shard's weighted loss, correct count and gradients (null where a parameter took no part).</summary>
    private sealed record ShardResult(Tensor Loss, Tensor Correct, Tensor?[] Gradients) : IDisposable
    {
        public void MoveToOuterDisposeScope()
        {
            Loss.MoveToOuterDisposeScope();
            Correct.MoveToOuterDisposeScope();
            foreach (Tensor? gradient in Gradients) gradient?.MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            Loss.Dispose();
            Correct.Dispose();
            foreach (Tensor? gradient in Gradients) gradient?.Dispose();
        }
    }
}
