using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// Reads the weights of a PyTorch checkpoint (<c>torch.save</c> zip archive, PyTorch 1.6 or later) without
/// Python and without executing anything from the file: the pickle is read by a restricted unpickler that only
/// knows plain data, OrderedDict, tensor rebuilding and storage classes.
/// </summary>
public static class TorchCheckpointReader
{
    private const string DataParallelPrefix = "module.";

    /// <summary>
    /// The state dict of the checkpoint at <paramref name="path"/> as CPU tensors, keyed by parameter name.
    /// The checkpoint may be <c>{'state_dict': …}</c> (the reference's classification checkpoints),
    /// <c>{'model': …}</c>, or the state dict itself; other top-level entries (epoch, optimizer, scheduler, …)
    /// are read safely and ignored. When every key starts with <c>module.</c> (saved through DataParallel) the
    /// prefix is removed. Tensors keep the file's element type (float16, bfloat16, float64 stay so); each owns
    /// its memory and is contiguous, whatever its strides in the file. The caller disposes them.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a checkpoint, is truncated or corrupt, or holds
    /// something refused (an unsupported opcode, a global outside the allow-list, an unsupported storage type).</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using TorchArchive archive = TorchArchive.Open(path);
        List<KeyValuePair<string, PickleTensor>> entries = StateDictEntries(archive.ReadPickle(), path);

        using var scope = NewDisposeScope();
        var storages = new Dictionary<PickleStorage, Tensor>();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string key, PickleTensor tensor) in entries)
        {
            if (!tensor.Storage.Type.IsReadable)
                throw new CheckpointFormatException(
                    $"'{path}': unsupported storage {tensor.Storage.Type.Name} in key '{key}'; readable storages hold " +
                    "float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8 or bool.");
            if (!storages.TryGetValue(tensor.Storage, out Tensor? storage))
                storages[tensor.Storage] = storage = archive.ReadStorage(tensor.Storage);
            tensors[key] = Materialise(tensor, storage, key, path);
        }
        foreach (Tensor tensor in tensors.Values)
            tensor.MoveToOuterDisposeScope();
        return tensors;
    }

    private static List<KeyValuePair<string, PickleTensor>> StateDictEntries(object? root, string path)
    {
        if (root is not PickleDict top)
            throw new CheckpointFormatException($"'{path}' holds a pickled {root?.GetType().Name ?? "None"}, not a dict of weights.");
        PickleDict stateDict =
            top.TryGetValue("state_dict", out object? wrapped) && wrapped is PickleDict inner ? inner
            : top.TryGetValue("model", out wrapped) && wrapped is PickleDict model ? model
            : top;

        var entries = new List<KeyValuePair<string, PickleTensor>>(stateDict.Entries.Count);
        foreach ((object? key, object? value) in stateDict.Entries)
        {
            if (key is not string name)
                throw new CheckpointFormatException($"'{path}': the state dict has a key that is not a string ({key ?? "None"}).");
            if (value is not PickleTensor tensor)
                throw new CheckpointFormatException(
                    $"'{path}': entry '{name}' is not a tensor; expected a state dict, or a dict holding one under 'state_dict' or 'model'.");
            entries.Add(new(name, tensor));
        }
        if (entries.Count > 0 && entries.All(e => e.Key.StartsWith(DataParallelPrefix, StringComparison.Ordinal)))
            entries = entries.Select(e => new KeyValuePair<string, PickleTensor>(e.Key[DataParallelPrefix.Length..], e.Value)).ToList();
        return entries;
    }

    /// <summary>The strided view the pickle describes, bounds-checked against its storage, as a contiguous copy.</summary>
    private static Tensor Materialise(PickleTensor tensor, Tensor storage, string key, string path)
    {
        long elements = 1, lastIndex = tensor.Offset;
        try
        {
            for (int i = 0; i < tensor.Size.Length; i++)
            {
                if (tensor.Size[i] < 0 || tensor.Stride[i] < 0)
                    throw new CheckpointFormatException($"'{path}': tensor '{key}' has a negative size or stride.");
                elements = checked(elements * tensor.Size[i]);
                if (tensor.Size[i] > 0)
                    lastIndex = checked(lastIndex + (tensor.Size[i] - 1) * tensor.Stride[i]);
            }
        }
        catch (OverflowException e)
        {
            throw new CheckpointFormatException($"'{path}': tensor '{key}' has a size or stride too large to exist.", e);
        }
        if (tensor.Offset < 0 || (elements > 0 && lastIndex >= tensor.Storage.ElementCount))
            throw new CheckpointFormatException(
                $"'{path}': tensor '{key}' (size {ShapeMismatch.Format(tensor.Size)}, stride {ShapeMismatch.Format(tensor.Stride)}, " +
                $"offset {tensor.Offset}) reaches past the {tensor.Storage.ElementCount} elements of storage '{tensor.Storage.Key}'.");
        if (elements == 0)
            return empty(tensor.Size, storage.dtype);
        using Tensor view = storage.as_strided(tensor.Size, tensor.Stride, tensor.Offset);
        // A copy either way, so no two returned tensors share memory and none pins a larger storage.
        return view.is_contiguous() ? view.clone() : view.contiguous();
    }
}
