using Crate.Transforms.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// Copies named weights into any TorchSharp module's parameters and buffers by state-dict name, checking names
/// and shapes first: a strict load refuses (changing nothing) unless everything matches, a lenient one loads what
/// matches and reports the rest. Values are converted to each parameter's element type and device.
/// </summary>
internal static class StateDictLoader
{
    /// <summary>
    /// A new network of <paramref name="architecture"/> with <paramref name="weights"/> loaded (see <see cref="Load"/>),
    /// moved to <paramref name="device"/> when one is given; the network is disposed when loading fails.
    /// </summary>
    public static CrateModel CreateLoaded(
        CrateArchitecture architecture,
        IReadOnlyDictionary<string, Tensor> weights,
        string source,
        bool strict,
        Device? device,
        out CheckpointLoadReport report,
        Func<string, bool>? skip = null,
        Func<string, string>? displayName = null)
    {
        // The initial values are overwritten by the weights: a private generator leaves the process-wide one untouched.
        using var scratch = new Generator(0);
        var model = new CrateModel(architecture, scratch);
        try
        {
            report = Load(model, weights, source, strict, skip, displayName);
            if (device is not null)
                model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads <paramref name="weights"/> into <paramref name="module"/>. Names for which <paramref name="skip"/>
    /// is true are left alone on both sides. <paramref name="source"/> and <paramref name="displayName"/> only
    /// shape the exception message.
    /// </summary>
    /// <exception cref="CheckpointMismatchException"><paramref name="strict"/> and a name is missing, unexpected
    /// or of the wrong shape; all of them are listed.</exception>
    public static CheckpointLoadReport Load(
        nn.Module module,
        IReadOnlyDictionary<string, Tensor> weights,
        string source,
        bool strict,
        Func<string, bool>? skip = null,
        Func<string, string>? displayName = null)
    {
        skip ??= _ => false;
        Dictionary<string, Tensor> targets = module.state_dict();
        var loaded = new List<(Tensor Target, Tensor Value)>();
        var loadedNames = new List<string>();
        var missing = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        var skipped = new List<string>();
        foreach ((string name, Tensor target) in targets)
        {
            if (skip(name))
                skipped.Add(name);
            else if (!weights.TryGetValue(name, out Tensor? value))
                missing.Add(name);
            else if (!target.shape.SequenceEqual(value.shape))
                mismatches.Add(new ShapeMismatch(name, target.shape, value.shape));
            else
            {
                loaded.Add((target, value));
                loadedNames.Add(name);
            }
        }
        var unexpected = new List<string>();
        foreach (string name in weights.Keys.Where(name => !targets.ContainsKey(name)))
            (skip(name) ? skipped : unexpected).Add(name);

        if (strict && (missing.Count > 0 || unexpected.Count > 0 || mismatches.Count > 0))
            throw new CheckpointMismatchException(source, missing, unexpected, mismatches, displayName);

        using (no_grad())
        {
            foreach ((Tensor target, Tensor value) in loaded)
                target.copy_(value);
        }
        return new CheckpointLoadReport
        {
            Loaded = loadedNames, MissingKeys = missing, UnexpectedKeys = unexpected, ShapeMismatches = mismatches, Skipped = skipped,
        };
    }
}
