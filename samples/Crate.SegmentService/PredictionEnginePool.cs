using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Crate.SegmentService;

/// <summary>
/// PredictionEngines over one loaded model, shared by concurrent requests as ML.NET's <c>PredictionEnginePool</c>
/// (Microsoft.Extensions.ML) shares them. A PredictionEngine is not thread-safe (it keeps its row and cursor), but
/// the model under it is: every engine holds its own row mappers over the same transformers and the same network
/// weights, so an engine per concurrent request is cheap. Engines come from an ASP.NET Core <see cref="ObjectPool{T}"/>;
/// unlike ML.NET's pool, at most <see cref="MaximumConcurrency"/> predictions run at once (the others wait their
/// turn), which bounds the memory in flight and keeps the CPU's cores from being oversubscribed.
/// </summary>
/// <typeparam name="TInput">The input row type.</typeparam>
/// <typeparam name="TOutput">The output row type.</typeparam>
public sealed class PredictionEnginePool<TInput, TOutput> : IDisposable
    where TInput : class
    where TOutput : class, new()
{
    private readonly ObjectPool<PredictionEngine<TInput, TOutput>> engines;
    private readonly SemaphoreSlim turns;
    private int created;

    /// <summary>Creates the pool; engines are made on first use.</summary>
    /// <param name="context">The context the model was loaded with.</param>
    /// <param name="model">The fitted model; it stays the caller's (the pool never disposes it).</param>
    /// <param name="maximumConcurrency">Predictions that may run at once, and engines kept.</param>
    /// <param name="inputSchemaDefinition">Maps <typeparamref name="TInput"/>'s members to columns; null for their names.</param>
    /// <param name="outputSchemaDefinition">Maps columns to <typeparamref name="TOutput"/>'s members; null for their names.</param>
    public PredictionEnginePool(MLContext context, ITransformer model, int maximumConcurrency,
        SchemaDefinition? inputSchemaDefinition = null, SchemaDefinition? outputSchemaDefinition = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumConcurrency, 1);
        MaximumConcurrency = maximumConcurrency;
        turns = new SemaphoreSlim(maximumConcurrency, maximumConcurrency);
        var policy = new EnginePolicy(() =>
        {
            Interlocked.Increment(ref created);
            return context.Model.CreatePredictionEngine<TInput, TOutput>(model, ignoreMissingColumns: false,
                inputSchemaDefinition, outputSchemaDefinition);
        });
        // The provider makes a pool that disposes the engines it keeps when it is disposed (PredictionEngine is IDisposable).
        engines = new DefaultObjectPoolProvider { MaximumRetained = maximumConcurrency }.Create(policy);
    }

    /// <summary>Predictions that may run at once; later callers wait.</summary>
    public int MaximumConcurrency { get; }

    /// <summary>Engines made so far (at most <see cref="MaximumConcurrency"/> while no engine is lost to an exception).</summary>
    public int EnginesCreated => Volatile.Read(ref created);

    /// <summary>Waits for a turn, then predicts <paramref name="input"/> on a pooled engine.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting.</exception>
    public async Task<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        await turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return PredictOnEngine(input);
        }
        finally
        {
            turns.Release();
        }
    }

    /// <summary>Waits for a turn, then predicts <paramref name="input"/> on a pooled engine, blocking the calling thread.</summary>
    public TOutput Predict(TInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        turns.Wait();
        try
        {
            return PredictOnEngine(input);
        }
        finally
        {
            turns.Release();
        }
    }

    private TOutput PredictOnEngine(TInput input)
    {
        PredictionEngine<TInput, TOutput> engine = engines.Get();
        TOutput output;
        try
        {
            output = engine.Predict(input);
        }
        catch
        {
            // An engine whose prediction threw may hold a half-read row: drop it rather than reuse it.
            engine.Dispose();
            throw;
        }
        engines.Return(engine);
        return output;
    }

    /// <summary>Disposes the engines kept; the model stays the caller's.</summary>
    public void Dispose()
    {
        (engines as IDisposable)?.Dispose();
        turns.Dispose();
    }

    private sealed class EnginePolicy(Func<PredictionEngine<TInput, TOutput>> create) : IPooledObjectPolicy<PredictionEngine<TInput, TOutput>>
    {
        public PredictionEngine<TInput, TOutput> Create() => create();

        public bool Return(PredictionEngine<TInput, TOutput> obj) => true;
    }
}
