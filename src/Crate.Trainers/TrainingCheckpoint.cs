using System.Globalization;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// Everything needed to continue a training run exactly: weights, optimizer state, the position in the
/// schedule and the early-stopping bookkeeping. Shuffling and augmentation are derived from (seed, epoch,
/// row), so no random-generator state needs saving. Stored as safetensors; written to a temporary name and
/// renamed, so a crash never leaves a half-written checkpoint.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private const string ModelPrefix = "model/";
    private const string OptimizerPrefix = "optimizer/";
    private const string BestPrefix = "best/";

    /// <summary>Epochs completed (the run continues with this epoch index, 0-based).</summary>
    public required int CompletedEpochs { get; init; }

    /// <summary>Optimizer steps taken in the epoch that was interrupted (0 at an epoch boundary).</summary>
    public required int StepsIntoEpoch { get; init; }

    /// <summary>Optimizer steps taken in all.</summary>
    public required long GlobalStep { get; init; }

    /// <summary>Best validation accuracy so far, if validating.</summary>
    public double? BestAccuracy { get; init; }

    /// <summary>Epochs since the best validation accuracy.</summary>
    public int EpochsSinceBest { get; init; }

    /// <summary>The network's architecture.</summary>
    public required CrateArchitecture Architecture { get; init; }

    public static void Write(string path, CrateModel model, IReadOnlyDictionary<string, Tensor> optimizerState,
        IReadOnlyDictionary<string, Tensor>? bestWeights, TrainingCheckpoint state)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach ((string name, Tensor value) in model.state_dict()) tensors[ModelPrefix + name] = value;
        foreach ((string name, Tensor value) in optimizerState) tensors[OptimizerPrefix + name] = value;
        if (bestWeights is not null)
            foreach ((string name, Tensor value) in bestWeights) tensors[BestPrefix + name] = value;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = CrateNetworkFile.TrainingCheckpointFormat,
            ["completed_epochs"] = state.CompletedEpochs.ToString(CultureInfo.InvariantCulture),
            ["steps_into_epoch"] = state.StepsIntoEpoch.ToString(CultureInfo.InvariantCulture),
            ["global_step"] = state.GlobalStep.ToString(CultureInfo.InvariantCulture),
            ["epochs_since_best"] = state.EpochsSinceBest.ToString(CultureInfo.InvariantCulture),
            ["architecture"] = state.Architecture.ToJson(),
        };
        if (state.BestAccuracy is double best) metadata["best_accuracy"] = best.ToString("R", CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Reads a checkpoint; the tensors come back split into model, optimizer and best-weights parts, which the caller
    /// disposes. Tensors under no known prefix, and every tensor when the file is refused, are disposed here.
    /// </summary>
    public static (TrainingCheckpoint State, Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer, Dictionary<string, Tensor>? Best)
        Read(string path)
    {
        (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensorsFile.Read(path);
        using var scope = NewDisposeScope();
        foreach (Tensor t in tensors.Values) t.MoveToOtherDisposeScope(scope);
        if (!metadata.TryGetValue("format", out string? format) || format != CrateNetworkFile.TrainingCheckpointFormat)
            throw new InvalidDataException($"'{path}' is not a Crate.MLNet training checkpoint.");
        var state = new TrainingCheckpoint
        {
            CompletedEpochs = int.Parse(metadata["completed_epochs"], CultureInfo.InvariantCulture),
            StepsIntoEpoch = int.Parse(metadata["steps_into_epoch"], CultureInfo.InvariantCulture),
            GlobalStep = long.Parse(metadata["global_step"], CultureInfo.InvariantCulture),
            EpochsSinceBest = int.Parse(metadata["epochs_since_best"], CultureInfo.InvariantCulture),
            BestAccuracy = metadata.TryGetValue("best_accuracy", out string? b) ? double.Parse(b, CultureInfo.InvariantCulture) : null,
            Architecture = CrateArchitecture.FromJson(metadata["architecture"]),
        };
        // What the caller takes leaves the scope; the rest is disposed with it.
        Dictionary<string, Tensor> Part(string prefix) =>
            tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value.DetachFromDisposeScope());
        Dictionary<string, Tensor> model = Part(ModelPrefix), optimizer = Part(OptimizerPrefix), best = Part(BestPrefix);
        return (state, model, optimizer, best.Count > 0 ? best : null);
    }
}
