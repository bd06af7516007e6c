namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view (offset, sizes, strides, in elements) of a
/// storage. Nothing is read until the tensor is materialised, so tensors the caller ignores (optimizer state)
/// cost nothing.
/// </summary>
internal sealed record PickleTensor(PickleStorage Storage, long Offset, long[] Size, long[] Stride);
