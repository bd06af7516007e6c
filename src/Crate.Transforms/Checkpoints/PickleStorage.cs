namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A storage a checkpoint refers to by persistent id: the raw elements in archive entry <c>data/&lt;Key&gt;</c>.
/// Its bytes are read only when a tensor of the state dict needs them.
/// </summary>
internal sealed record PickleStorage(string Key, TorchStorageType Type, long ElementCount);
