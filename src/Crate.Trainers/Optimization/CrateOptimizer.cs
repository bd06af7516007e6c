using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>
/// Base of the training loop's optimizers: decoupled weight decay, a learning rate the schedule sets before each
/// step, and a state that a checkpoint saves and restores exactly. Parameters without a gradient are skipped.
/// Written here rather than taken from TorchSharp so that Lion exists and every state tensor is ours to save.
/// The optimizer owns its state (one or two tensors the size of each parameter, on the parameters' device):
/// disposing it frees them at once rather than when the garbage collector finds them, which on a GPU is the
/// difference between reusing that memory and running out of it.
/// </summary>
internal abstract class CrateOptimizer : IDisposable
{
    private readonly Parameter[] parameters;
    private long steps;

    /// <summary>Creates the optimizer over <paramref name="parameters"/>.</summary>
    protected CrateOptimizer(IEnumerable<Parameter> parameters, double learningRate, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = parameters.ToArray();
        if (this.parameters.Length == 0) throw new ArgumentException("There are no parameters to optimise.", nameof(parameters));
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive.");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must not be negative.");
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The learning rate of the next step.</summary>
    public double LearningRate { get; set; }

    /// <summary>Decoupled weight decay: each step multiplies the parameters by 1 − lr·wd.</summary>
    public double WeightDecay { get; }

    /// <summary>Steps taken.</summary>
    public long Steps => steps;

    /// <summary>Names of the per-parameter state tensors (e.g. "exp_avg"), all shaped like their parameter.</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Updates one parameter in place (under no_grad) from its gradient and state; <paramref name="step"/> is 1-based.</summary>
    protected abstract void Update(Tensor parameter, Tensor gradient, IReadOnlyList<Tensor> state, long step);

    private Tensor[][]? state;
    private bool disposed;

    /// <summary>One optimisation step over the parameters that have gradients.</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var noGrad = no_grad();
        // The state outlives whatever dispose scope the training step runs in; this optimizer disposes it.
        state ??= parameters.Select(p => StateNames.Select(_ => zeros_like(p).DetachFromDisposeScope()).ToArray()).ToArray();
        steps++;
        for (int i = 0; i < parameters.Length; i++)
        {
            // Every read of .grad is a new handle on the gradient: the scope closes it (and Update's temporaries).
            using var scope = NewDisposeScope();
            Tensor? gradient = parameters[i].grad;
            if (gradient is null) continue;
            Update(parameters[i], gradient, state[i], steps);
        }
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (Parameter parameter in parameters)
            parameter.grad?.zero_();
    }

    /// <summary>
    /// The state to checkpoint: "steps" and "{parameter index}.{state name}" tensors, copies on the CPU that the
    /// caller disposes.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        var dict = new Dictionary<string, Tensor> { ["steps"] = tensor(steps) };
        if (state is not null)
            for (int i = 0; i < parameters.Length; i++)
                for (int s = 0; s < StateNames.Count; s++)
                    dict[$"{i}.{StateNames[s]}"] = state[i][s].detach().cpu().clone();
        foreach (Tensor copy in dict.Values) copy.DetachFromDisposeScope();
        return dict;
    }

    /// <summary>
    /// Restores <see cref="StateDict"/>'s output (copying it: <paramref name="saved"/> stays the caller's); the names
    /// and shapes must match these parameters. The state this replaces is disposed.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> saved)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(saved);
        if (!saved.TryGetValue("steps", out Tensor? savedSteps))
            throw new InvalidDataException("The optimizer state has no 'steps' entry.");
        long restoredSteps = savedSteps.item<long>();
        if (restoredSteps == 0)
        {
            steps = 0;
            DisposeState();
            return;
        }
        // Copies made before a mismatch is found are freed with the scope; the rest leave it at the end.
        using var scope = NewDisposeScope();
        var restored = new Tensor[parameters.Length][];
        for (int i = 0; i < parameters.Length; i++)
        {
            restored[i] = new Tensor[StateNames.Count];
            for (int s = 0; s < StateNames.Count; s++)
            {
                string name = $"{i}.{StateNames[s]}";
                if (!saved.TryGetValue(name, out Tensor? value))
                    throw new InvalidDataException($"The optimizer state has no '{name}' entry (parameter {i} of {parameters.Length}).");
                if (!value.shape.SequenceEqual(parameters[i].shape))
                    throw new InvalidDataException(
                        $"Optimizer state '{name}' has shape [{string.Join(", ", value.shape)}] but parameter {i} has [{string.Join(", ", parameters[i].shape)}].");
                restored[i][s] = value.to(parameters[i].dtype, parameters[i].device).clone();
            }
        }
        int expected = 1 + parameters.Length * StateNames.Count;
        if (saved.Count != expected)
            throw new InvalidDataException($"The optimizer state has {saved.Count} entries; this optimizer over {parameters.Length} parameters expects {expected}.");
        foreach (Tensor copy in restored.SelectMany(r => r)) copy.DetachFromDisposeScope();
        DisposeState();
        state = restored;
        steps = restoredSteps;
    }

    /// <summary>Frees the state tensors. The parameters stay their owner's.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        GC.SuppressFinalize(this);
    }

    private void DisposeState()
    {
        if (state is null) return;
        foreach (Tensor t in state.SelectMany(s => s)) t.Dispose();
        state = null;
    }
}
