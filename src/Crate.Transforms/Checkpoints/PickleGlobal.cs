namespace Crate.Transforms.Checkpoints;

/// <summary>What an allow-listed pickle global stands for; the unpickler interprets these itself.</summary>
internal enum PickleGlobalKind
{
    /// <summary><c>collections.OrderedDict</c>: called with no arguments, it makes an empty dict.</summary>
    OrderedDict,

    /// <summary><c>torch._utils._rebuild_tensor_v2</c>: a view of a storage.</summary>
    RebuildTensor,

    /// <summary><c>torch._utils._rebuild_parameter</c>: a parameter wrapping a tensor; read as the tensor.</summary>
    RebuildParameter,

    /// <summary>A <c>torch.*Storage</c> class, used only inside persistent ids.</summary>
    StorageType,
}

/// <summary>An allow-listed global as it sits on the unpickler's stack.</summary>
internal sealed record PickleGlobal(PickleGlobalKind Kind, TorchStorageType? Storage = null)
{
    /// <summary>The global for <c>module.name</c>, or null when it is not on the allow-list.</summary>
    public static PickleGlobal? Resolve(string module, string name) => (module, name) switch
    {
        ("collections", "OrderedDict") => new PickleGlobal(PickleGlobalKind.OrderedDict),
        ("torch._utils", "_rebuild_tensor_v2") => new PickleGlobal(PickleGlobalKind.RebuildTensor),
        ("torch._utils", "_rebuild_parameter") => new PickleGlobal(PickleGlobalKind.RebuildParameter),
        _ => TorchStorageType.FromGlobal(module, name) is { } storage ? new PickleGlobal(PickleGlobalKind.StorageType, storage) : null,
    };
}
