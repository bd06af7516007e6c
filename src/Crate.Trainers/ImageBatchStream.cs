using System.Collections.Concurrent;
using System.Diagnostics;
using Crate.Transforms.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>A batch ready for the network: normalised images [B, 3, H, W] and class indices [B] (int64), on the CPU.</summary>
internal sealed record ImageBatch(Tensor Images, Tensor Labels, long FirstRow) : IDisposable
{
    public int Count => (int)Labels.shape[0];

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Streams labelled images from an IDataView as batches, decoding, resizing, normalising and (for training)
/// augmenting on a background thread, at most <c>prefetch</c> batches ahead of the network. Only the rows of
/// the batches in flight are ever decoded and in memory. Records how long the consumer waited for data.
/// </summary>
internal sealed class ImageBatchStream
{
    private readonly int classCount;
    private readonly CrateTrainerOptions options;

    public ImageBatchStream(int classCount, CrateTrainerOptions options)
    {
        this.classCount = classCount;
        this.options = options;
    }

    /// <summary>Seconds the consumer spent blocked waiting for the next batch, over all epochs read.</summary>
    public double WaitSeconds { get; private set; }

    /// <summary>
    /// The batches of <paramref name="data"/>, its rows served in <paramref name="order"/> (row index per position,
    /// see <see cref="WindowedShuffle"/>), skipping the first <paramref name="skipBatches"/> without decoding them;
    /// <paramref name="transform"/> (augmentation) runs on the background thread.
    /// </summary>
    public IEnumerable<ImageBatch> Read(IDataView data, int[] order, int batchSize, int skipBatches, Func<ImageBatch, ImageBatch>? transform,
        CancellationToken cancellation)
    {
        using var queue = new BlockingCollection<ImageBatch>(options.PrefetchBatches);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        Exception? failure = null;
        var producer = new Thread(() =>
        {
            try
            {
                foreach (ImageBatch batch in Produce(data, order, batchSize, skipBatches, transform))
                {
                    if (!TryAdd(queue, batch, stop.Token)) return;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                queue.CompleteAdding();
            }
        })
        { IsBackground = true, Name = "Crate image batches" };
        producer.Start();
        try
        {
            while (true)
            {
                var clock = Stopwatch.StartNew();
                bool got = queue.TryTake(out ImageBatch? batch, Timeout.Infinite, CancellationToken.None);
                WaitSeconds += clock.Elapsed.TotalSeconds;
                if (!got) break;
                yield return batch!;
            }
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
        finally
        {
            stop.Cancel();
            producer.Join();
            while (queue.TryTake(out ImageBatch? left)) left.Dispose();
        }
    }

    private static bool TryAdd(BlockingCollection<ImageBatch> queue, ImageBatch batch, CancellationToken token)
    {
        try
        {
            queue.Add(batch, token);
            return true;
        }
        catch (OperationCanceledException)
        {
            batch.Dispose();
            return false;
        }
    }

    private IEnumerable<ImageBatch> Produce(IDataView data, int[] order, int batchSize, int skipBatches, Func<ImageBatch, ImageBatch>? transform)
    {
        // Columns are looked up in each view read: a validation view has a schema of its own.
        ImageColumn image = ImageColumn.Find(data.Schema, options.ImageColumnName, options.ImageHeight, options.ImageWidth);
        DataViewSchema.Column label = data.Schema[options.LabelColumnName];
        using DataViewRowCursor cursor = data.GetRowCursor([image.Column, label]);
        Func<ImagePixels> readImage = image.CreateReader(cursor);
        ValueGetter<uint> readLabel = cursor.GetGetter<uint>(label);
        var servedAt = new int[order.Length];
        for (int position = 0; position < order.Length; position++) servedAt[order[position]] = position;
        int first = Math.Min(order.Length, skipBatches * batchSize);
        var waiting = new Dictionary<int, (ImagePixels Image, long Label)>();
        int read = 0;
        var pixels = new List<ImagePixels>(batchSize);
        var labels = new List<long>(batchSize);
        for (int position = first; position < order.Length; position++)
        {
            int wanted = order[position];
            while (!waiting.ContainsKey(wanted))
            {
                if (!cursor.MoveNext())
                    throw new InvalidDataException($"The data ended after {read} rows, but it had {order.Length} when training began.");
                int row = read++;
                if (servedAt[row] < first) continue; // served before the resumed position: never decoded
                uint key = 0;
                readLabel(ref key);
                if (key == 0 || key > classCount)
                    throw new InvalidDataException($"Column '{label.Name}', row {row}: the label is missing (an unknown value for its key type).");
                ImagePixels picture = readImage();
                CheckSize(picture, image.Column.Name, row);
                waiting.Add(row, (picture, key - 1));
            }
            (ImagePixels served, long servedLabel) = waiting[wanted];
            waiting.Remove(wanted);
            pixels.Add(served);
            labels.Add(servedLabel);
            if (pixels.Count == batchSize) yield return Assemble(pixels, labels, position + 1 - batchSize, transform);
        }
        if (pixels.Count > 0) yield return Assemble(pixels, labels, order.Length - pixels.Count, transform);
    }

    private ImageBatch Assemble(List<ImagePixels> pixels, List<long> labels, long firstRow, Func<ImageBatch, ImageBatch>? transform)
    {
        var batch = new ImageBatch(
            options.Normalization.ToBatch(pixels, options.ImageHeight, options.ImageWidth, CPU),
            tensor(labels.ToArray(), ScalarType.Int64),
            firstRow);
        pixels.Clear();
        labels.Clear();
        return transform is null ? batch : transform(batch);
    }

    private void CheckSize(ImagePixels picture, string column, long row)
    {
        if (picture.Height < options.PatchSize || picture.Width < options.PatchSize)
            throw new InvalidDataException(
                $"Column '{column}', row {row}: the image is {picture.Width}×{picture.Height}, smaller than one {options.PatchSize}×{options.PatchSize} patch.");
        if (!options.ResizeImages && (picture.Height != options.ImageHeight || picture.Width != options.ImageWidth))
            throw new InvalidDataException(
                $"Column '{column}', row {row}: the image is {picture.Width}×{picture.Height} but ResizeImages is off and the network takes " +
                $"{options.ImageWidth}×{options.ImageHeight}.");
    }
}
