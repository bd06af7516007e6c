using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>
/// Base of the training loop's optimizers: decoupled weight decay, a learning rate the schedule sets before each
/// step, and a state that a checkpoint saves and restores exactly. Parameters without a gradient are skipped.
/// Written here rather than taken from TorchSharp so that Lion exists and every state tensor is ours to save.
/// </summary>
internal abstract class CrateOptimizer
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

    /// <summary>One optimisation step over the parameters that have gradients.</summary>
    public void Step()
    {
        // The state outlives whatever dispose scope the training step runs in.
        state ??= parameters.Select(p => StateNames.Select(_ => zeros_like(p).detach().DetachFromDisposeScope()).ToArray()).ToArray();
        steps++;
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Length; i++)
        {
            Tensor? gradient = parameters[i].grad;
            if (gradient is null) continue;
            using var scope = NewDisposeScope();
            Update(parameters[i], gradient, state[i], steps);
        }
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (Parameter parameter in parameters)
            parameter.grad?.zero_();
    }

    /// <summary>The state to checkpoint: "steps" and "{parameter index}.{state name}" tensors (copies, on the CPU).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor> { ["steps"] = tensor(steps) };
        if (state is null) return dict;
        for (int i = 0; i < parameters.Length; i++)
            for (int s = 0; s < StateNames.Count; s++)
                dict[$"{i}.{StateNames[s]}"] = state[i][s].detach().cpu().clone();
        return dict;
    }

    /// <summary>Restores <see cref="StateDict"/>'s output; the names and shapes must match these parameters.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        if (!saved.TryGetValue("steps", out Tensor? savedSteps))
            throw new InvalidDataException("The optimizer state has no 'steps' entry.");
        long restoredSteps = savedSteps.item<long>();
        if (restoredSteps == 0)
        {
            steps = 0;
            state = null;
            return;
        }
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
                restored[i][s] = value.to(parameters[i].dtype, parameters[i].device).clone().DetachFromDisposeScope();
            }
        }
        int expected = 1 + parameters.Length * StateNames.Count;
        if (saved.Count != expected)
            throw new InvalidDataException($"The optimizer state has {saved.Count} entries; this optimizer over {parameters.Length} parameters expects {expected}.");
        state = restored;
        steps = restoredSteps;
    }
}
