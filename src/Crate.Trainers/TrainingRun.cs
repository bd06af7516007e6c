using System.Diagnostics;
using Crate.Trainers.Augmentation;
using Crate.Trainers.Optimization;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// One training run: epochs of shuffled, augmented batches through the network with the chosen optimizer and
/// schedule, validation and early stopping, progress reports, checkpoints, resumption and cancellation.
/// Everything random is derived from (seed, epoch, row), so a resumed run on the CPU ends with the same weights
/// as an uninterrupted one. The run owns what it allocates beside the network (optimizer state, the bfloat16
/// copy, the best weights, the tensors read back on resume and written at each checkpoint) and frees it on every
/// exit: the end, a cancellation, an exception, and <see cref="Dispose"/>.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly CrateTrainerOptions options;
    private readonly CrateModel model;
    private readonly int classCount;
    private readonly long rows;
    private readonly long validationRows;
    private readonly Device device;
    private readonly Action<string> log;
    private readonly ImageBatchStream stream;
    private readonly CrateOptimizer optimizer;
    private readonly LearningRateSchedule schedule;
    private readonly ImageAugmenter? augmenter;
    private readonly Parameter[] trained;
    private readonly int stepsPerEpoch;
    private readonly MixedPrecisionCopy? mixedPrecision;
    private readonly ShardedGradients? shards;
    private Dictionary<string, Tensor>? bestWeights;

    /// <summary>Called before every training and validation step: the trainer's check of ML.NET's cancellation
    /// (<c>MLContext.CancelExecution</c>), which throws to stop the run.</summary>
    public Action CheckAlive { get; init; } = () => { };

    public TrainingRun(CrateTrainerOptions options, CrateModel model, int classCount, long rows, long validationRows, Device device, Action<string> log)
    {
        this.validationRows = validationRows;
        this.options = options;
        this.model = model;
        this.classCount = classCount;
        this.rows = rows;
        this.device = device;
        this.log = log;
        stream = new ImageBatchStream(classCount, options);
        // Freezing the backbone leaves only the head's LayerNorm and linear map to train.
        trained = model.named_parameters()
            .Where(p => !options.FreezeBackbone || p.name.StartsWith("head", StringComparison.Ordinal))
            .Select(p => p.parameter).ToArray();
        if (options.FreezeBackbone)
            foreach ((string name, Parameter parameter) in model.named_parameters())
                parameter.requires_grad = name.StartsWith("head", StringComparison.Ordinal);
        optimizer = options.Optimizer == CrateOptimizerKind.Lion
            ? new LionOptimizer(trained, options.EffectiveLearningRate, options.EffectiveWeightDecay)
            : new AdamWOptimizer(trained, options.EffectiveLearningRate, options.EffectiveWeightDecay);
        schedule = new LearningRateSchedule(options.WarmupEpochs, options.Epochs);
        augmenter = options.RandomResizedCrop || options.HorizontalFlip
            ? new ImageAugmenter(new AugmentationOptions
                {
                    RandomResizedCrop = options.RandomResizedCrop, HorizontalFlip = options.HorizontalFlip, Scale = (options.CropMinScale, 1.0),
                },
                (ulong)options.Seed)
            : null;
        stepsPerEpoch = (int)((rows + options.BatchSize - 1) / options.BatchSize);
        if (options.MixedPrecision && (device.type == DeviceType.CUDA || options.MixedPrecisionOnCpu))
        {
            if (device.type == DeviceType.CUDA && !CudaDriver.SupportsBFloat16(device, out string why))
            {
                log($"Mixed precision off: {why} Training in float32.");
            }
            else
            {
                try
                {
                    mixedPrecision = new MixedPrecisionCopy(model, device);
                }
                catch
                {
                    optimizer.Dispose();
                    throw;
                }
                log("Mixed precision: bfloat16 forward and backward, float32 master weights.");
            }
        }
        int shardCount = ShardedGradients.CountFor(options);
        if (device.type == DeviceType.CPU && mixedPrecision is null && shardCount > 1)
        {
            shards = new ShardedGradients(model, trained, options.LabelSmoothing, shardCount);
            log($"Each batch is computed in {shardCount} shards on as many threads.");
        }
    }

    /// <summary>The batch's loss and gradients in one pass (on a GPU, or with one thread or mixed precision): the
    /// mean loss and the number of correct predictions.</summary>
    private (Tensor Loss, Tensor Correct) Backward(Tensor images, Tensor labels)
    {
        mixedPrecision?.PullWeights();
        Tensor logits = mixedPrecision is null
            ? model.forward(images)
            : mixedPrecision.Compute.forward(images.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        Tensor loss = nn.functional.cross_entropy(logits, labels, label_smoothing: options.LabelSmoothing);
        loss.backward();
        mixedPrecision?.PushGradients();
        return (loss, logits.argmax(-1).eq(labels).sum());
    }

    /// <summary>Frees the optimizer state, the bfloat16 copy and any best weights not yet copied back.</summary>
    public void Dispose()
    {
        optimizer.Dispose();
        mixedPrecision?.Dispose();
        shards?.Dispose();
        DisposeAll(bestWeights);
        bestWeights = null;
    }

    public void Train(IDataView data)
    {
        int firstEpoch = 0, skipSteps = 0;
        long step = 0;
        double? bestAccuracy = null;
        int sinceBest = 0;
        if (options.ResumeFrom is string resume)
        {
            var (state, weights, optimizerState, best) = TrainingCheckpoint.Read(resume);
            // The weights and optimizer state are copied into the run's own tensors; the best weights become the run's.
            bestWeights = best;
            try
            {
                if (state.Architecture != model.Architecture)
                    throw new InvalidDataException($"The checkpoint '{resume}' holds a network of another architecture than the options describe.");
                using (no_grad())
                    foreach ((string name, Tensor target) in model.state_dict()) target.copy_(weights[name]);
                optimizer.LoadStateDict(optimizerState);
            }
            finally
            {
                DisposeAll(weights);
                DisposeAll(optimizerState);
            }
            (firstEpoch, skipSteps, step, bestAccuracy, sinceBest) =
                (state.CompletedEpochs, state.StepsIntoEpoch, state.GlobalStep, state.BestAccuracy, state.EpochsSinceBest);
            log($"Resumed from '{resume}' at epoch {firstEpoch + 1}, step {step}.");
        }

        var clock = Stopwatch.StartNew();
        long imagesSeen = 0;
        for (int epoch = firstEpoch; epoch < options.Epochs; epoch++)
        {
            model.train();
            if (options.Schedule == ScheduleGranularity.PerEpoch)
                optimizer.LearningRate = options.EffectiveLearningRate * schedule.Factor(epoch);
            int[] order = WindowedShuffle.Order(checked((int)rows), options.ShuffleWindow, SplitMix64.For((ulong)options.Seed, epoch, -1));
            int currentEpoch = epoch;
            Func<ImageBatch, ImageBatch>? augment = augmenter is null ? null
                : batch => batch with { Images = Replace(batch.Images, augmenter.Apply(batch.Images, currentEpoch, batch.FirstRow)) };
            using var window = new Window(device);
            int stepInEpoch = skipSteps;
            foreach (ImageBatch batch in stream.Read(data, order, options.BatchSize, skipSteps, augment, CancellationToken.None))
            {
                int count = batch.Count;
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    CheckAlive();
                    if (options.Schedule == ScheduleGranularity.PerStep)
                        optimizer.LearningRate = options.EffectiveLearningRate * schedule.FactorAt(step, stepsPerEpoch);
                    Tensor images = batch.Images.to(device), labels = batch.Labels.to(device);
                    optimizer.ZeroGrad();
                    (Tensor loss, Tensor correct) = shards is null ? Backward(images, labels) : shards.Backward(images, labels);
                    if (options.GradientClipNorm is double maxNorm) GradientClipping.ClipGlobalNorm(trained, maxNorm)?.Dispose(); // the norm is not read: no host sync
                    optimizer.Step();
                    // Summed on the device: nothing in the step reads a value back to the host (.item()); a report reads
                    // the sums once. On a GPU the one wait left is libtorch's own, copying the batch from pageable memory.
                    window.Add(loss, correct, count);
                }
                step++;
                stepInEpoch++;
                imagesSeen += count;
                if (stepInEpoch % options.LogEverySteps == 0 && stepInEpoch < stepsPerEpoch)
                    Report(epoch, step, window, null, clock, imagesSeen, isEpochEnd: false);
                if (options.Cancellation.IsCancellationRequested)
                {
                    SaveCheckpoint($"cancelled-step-{step:D7}.safetensors", epoch, stepInEpoch, step, bestAccuracy, sinceBest);
                    log($"Cancelled after step {step}.");
                    return;
                }
            }
            skipSteps = 0;

            double? accuracy = options.ValidationSet is null ? null : Evaluate(options.ValidationSet, validationRows);
            bool stop = false;
            if (accuracy is double current)
            {
                if (bestAccuracy is null || current > bestAccuracy)
                {
                    bestAccuracy = current;
                    sinceBest = 0;
                    DisposeAll(bestWeights);
                    using (no_grad())
                        bestWeights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
                }
                else if (++sinceBest >= options.EarlyStoppingPatience)
                {
                    stop = true;
                }
            }
            Report(epoch, step, window, accuracy, clock, imagesSeen, isEpochEnd: true);
            if ((epoch + 1) % options.CheckpointEveryEpochs == 0 || epoch + 1 == options.Epochs || stop)
                SaveCheckpoint(CrateTrainingCheckpoint.EpochFileName(epoch + 1), epoch + 1, 0, step, bestAccuracy, sinceBest);
            if (stop)
            {
                log($"Early stop after epoch {epoch + 1}: no better validation accuracy for {sinceBest} epochs (best {bestAccuracy:P2}).");
                break;
            }
        }
        if (bestWeights is not null)
        {
            using (no_grad())
                foreach ((string name, Tensor target) in model.state_dict()) target.copy_(bestWeights[name]);
            DisposeAll(bestWeights);
            bestWeights = null;
        }
    }

    /// <summary>Accuracy of the current network on <paramref name="data"/> (<paramref name="count"/> rows, in order), without augmentation.</summary>
    private double Evaluate(IDataView data, long count)
    {
        model.eval();
        long correct = 0, total = 0;
        using (no_grad())
        {
            foreach (ImageBatch batch in stream.Read(data, Enumerable.Range(0, checked((int)count)).ToArray(), options.InferenceBatchSize, 0, null, CancellationToken.None))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    CheckAlive();
                    Tensor predicted = model.forward(batch.Images.to(device)).argmax(-1).cpu();
                    correct += predicted.eq(batch.Labels).sum().item<long>();
                    total += batch.Count;
                }
            }
        }
        model.train();
        return (double)correct / total;
    }

    private void Report(int epoch, long step, Window window, double? validation, Stopwatch clock, long imagesSeen, bool isEpochEnd)
    {
        double elapsed = clock.Elapsed.TotalSeconds;
        double imagesPerSecond = window.ImagesPerSecond();
        long remainingImages = (long)(options.Epochs - epoch) * rows - (isEpochEnd ? rows : window.EpochImages);
        var eta = TimeSpan.FromSeconds(imagesSeen > 0 ? Math.Max(0, remainingImages) * elapsed / imagesSeen : 0);
        var progress = new CrateTrainingProgress(epoch + 1, step, stepsPerEpoch, window.MeanLoss, window.Accuracy, validation,
            optimizer.LearningRate, imagesPerSecond, eta, isEpochEnd, stream.WaitSeconds / Math.Max(elapsed, 1e-9));
        log($"Epoch {progress.Epoch}/{options.Epochs} step {step}: loss {progress.Loss:F4}, train accuracy {progress.TrainAccuracy:P1}" +
            (validation is double v ? $", validation accuracy {v:P1}" : "") +
            $", lr {progress.LearningRate:G3}, {imagesPerSecond:F0} images/s, waiting for data {progress.DataWaitFraction:P1} of the time, ETA {eta:hh\\:mm\\:ss}");
        options.Progress?.Invoke(progress);
        window.Restart();
    }

    private void SaveCheckpoint(string fileName, int completedEpochs, int stepsIntoEpoch, long step, double? best, int sinceBest)
    {
        if (options.CheckpointDirectory is not string directory) return;
        string path = Path.Combine(directory, fileName);
        Dictionary<string, Tensor> optimizerState = optimizer.StateDict();
        try
        {
            TrainingCheckpoint.Write(path, model, optimizerState, bestWeights, new TrainingCheckpoint
            {
                CompletedEpochs = completedEpochs, StepsIntoEpoch = stepsIntoEpoch, GlobalStep = step, BestAccuracy = best,
                EpochsSinceBest = sinceBest, Architecture = model.Architecture,
            });
        }
        finally
        {
            DisposeAll(optimizerState);
        }
        log($"Checkpoint written: {path}");
    }

    private static Tensor Replace(Tensor old, Tensor replacement)
    {
        if (!ReferenceEquals(old, replacement)) old.Dispose();
        return replacement;
    }

    private static void DisposeAll(Dictionary<string, Tensor>? tensors)
    {
        if (tensors is null) return;
        foreach (Tensor t in tensors.Values) t.Dispose();
    }

    /// <summary>
    /// Running loss, accuracy and speed since the last report. The loss and the count of right answers are summed
    /// in tensors on the training device, so a step adds to them without waiting for the GPU; the mean loss and the
    /// accuracy read them back, once per report.
    /// </summary>
    private sealed class Window(Device device) : IDisposable
    {
        private readonly Tensor lossSum = zeros(1, ScalarType.Float64, device).DetachFromDisposeScope();
        private readonly Tensor correct = zeros(1, ScalarType.Int64, device).DetachFromDisposeScope();
        private long images, steps;
        private Stopwatch clock = Stopwatch.StartNew();

        public long EpochImages { get; private set; }

        public double MeanLoss => steps == 0 ? double.NaN : Read(lossSum) / steps;

        public double Accuracy => images == 0 ? double.NaN : Read(correct) / images;

        public void Add(Tensor loss, Tensor right, int count)
        {
            using (no_grad())
            {
                lossSum.PlusInPlace(loss.detach());
                correct.PlusInPlace(right);
            }
            images += count;
            EpochImages += count;
            steps++;
        }

        public double ImagesPerSecond() => images / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);

        public void Restart()
        {
            lossSum.zero_().Dispose();
            correct.zero_().Dispose();
            images = steps = 0;
            clock = Stopwatch.StartNew();
        }

        public void Dispose()
        {
            lossSum.Dispose();
            correct.Dispose();
        }

        private static double Read(Tensor sum)
        {
            using var scope = NewDisposeScope();
            return sum.cpu().to_type(ScalarType.Float64).item<double>();
        }
    }
}
