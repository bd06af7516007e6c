using System.Diagnostics;
using Microsoft.ML.Runtime;

namespace Crate.Transforms.MLNet;

/// <summary>
/// What a network transform tells its MLContext, batch by batch: before each batch it checks ML.NET's cancellation
/// (after <c>CancelExecution</c> the next batch throws ML.NET's <see cref="OperationCanceledException"/>, as ML.NET's own
/// components stop); at the first batch it logs where the network runs; after a batch it logs the images done each
/// time their count has doubled, or a minute after the last such line, so a long pass reports without flooding the log.
/// Without an MLContext (a transformer made by its constructor) it does nothing.
/// </summary>
internal sealed class NetworkRunLog
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);
    private readonly IHost? host;
    private readonly Func<string> describe;
    private readonly Stopwatch clock = new();
    private readonly Lock gate = new();
    private long images;
    private long nextReport = 1;
    private TimeSpan lastReport;

    /// <param name="host">The transformer's host in the MLContext, or null.</param>
    /// <param name="describe">The first line: what runs where (called once, at the first batch).</param>
    public NetworkRunLog(IHost? host, Func<string> describe)
    {
        this.host = host;
        this.describe = describe;
    }

    /// <summary>Throws ML.NET's <see cref="OperationCanceledException"/> once the MLContext is cancelled; logs the first line.</summary>
    public void BeforeBatch()
    {
        if (host is null) return;
        MLNetInternals.CheckAlive(host);
        lock (gate)
        {
            if (clock.IsRunning) return;
            clock.Start();
        }
        Info(describe());
    }

    /// <summary>Counts a finished batch of <paramref name="count"/> images, logging progress when it is due.</summary>
    public void AfterBatch(int count)
    {
        if (host is null) return;
        long done;
        lock (gate)
        {
            images += count;
            done = images;
            if (done < nextReport && clock.Elapsed - lastReport < Interval) return;
            nextReport = 2 * done;
            lastReport = clock.Elapsed;
        }
        double seconds = lastReport.TotalSeconds;
        Info($"{done:N0} images done ({(seconds > 0 ? done / seconds : 0):F1} images/s).");
    }

    private void Info(string message)
    {
        using IChannel channel = host!.Start("Transform");
        channel.Info(MessageSensitivity.None, message);
    }
}
