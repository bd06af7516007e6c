using Crate.Transforms.Checkpoints;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// A training run's checkpoints (<see cref="CrateTrainerOptions.CheckpointDirectory"/>) as networks: how the network
/// looked at the end of each epoch, for measuring how a property develops during training (the paper's Figure 10)
/// or for picking an epoch by hand. The optimizer state the files also hold is for <see cref="CrateTrainerOptions.ResumeFrom"/>.
/// </summary>
public static class CrateTrainingCheckpoint
{
    private const string EpochPrefix = "epoch-";
    private const string Extension = ".safetensors";

    /// <summary>The file name of the checkpoint written at the end of epoch <paramref name="epoch"/> (1-based): "epoch-0003.safetensors".</summary>
    public static string EpochFileName(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epoch);
        return $"{EpochPrefix}{epoch:D4}{Extension}";
    }

    /// <summary>The end-of-epoch checkpoints in <paramref name="directory"/>, in epoch order (interrupted runs' "cancelled-step" files are not listed).</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static IReadOnlyList<(int Epoch, string Path)> EpochCheckpoints(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"The checkpoint directory '{directory}' does not exist.");
        var found = new List<(int, string)>();
        foreach (string path in Directory.EnumerateFiles(directory, EpochPrefix + "*" + Extension))
        {
            string digits = Path.GetFileName(path)[EpochPrefix.Length..^Extension.Length];
            if (digits.Length > 0 && digits.All(char.IsAsciiDigit) && int.TryParse(digits, out int epoch) && epoch > 0) found.Add((epoch, path));
        }
        return found.OrderBy(f => f.Item1).ToArray();
    }

    /// <summary>The network saved in the training checkpoint at <paramref name="path"/>, on <paramref name="device"/> (the CPU by default).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a Crate.MLNet training checkpoint.</exception>
    /// <exception cref="CheckpointMismatchException">Its weights do not match the architecture it records.</exception>
    public static CrateModel LoadModel(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The training checkpoint '{path}' does not exist.", path);
        var (state, weights, optimizer, best) = TrainingCheckpoint.Read(path);
        try
        {
            return StateDictLoader.CreateLoaded(state.Architecture, weights, path, strict: true, device, out _);
        }
        finally
        {
            foreach (Tensor tensor in weights.Values.Concat(optimizer.Values).Concat(best?.Values ?? Enumerable.Empty<Tensor>()))
                tensor.Dispose();
        }
    }
}
