using Crate.Transforms.Network;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>
/// Mixed-precision training without autocast (TorchSharp 0.107 has none): a bfloat16 copy of the network runs the
/// forward and backward passes, while the optimizer keeps and updates the float32 master weights. Before each step
/// the master weights are cast into the copy; after the backward pass the copy's gradients are cast back onto the
/// masters. bfloat16 keeps float32's exponent range, so no loss scaling is needed.
/// </summary>
internal sealed class MixedPrecisionCopy : IDisposable
{
    private readonly (Parameter Master, Parameter Compute)[] pairs;

    public MixedPrecisionCopy(CrateModel master, Device device)
    {
        // The copy's initial values are overwritten before every step: a private generator leaves the process-wide one untouched.
        using (var scratch = new Generator(0))
            Compute = new CrateModel(master.Architecture, scratch).to(ScalarType.BFloat16).to(device);
        Dictionary<string, Parameter> copies = Compute.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        pairs = master.named_parameters().Select(p => (p.parameter, copies[p.name])).ToArray();
        foreach ((Parameter m, Parameter c) in pairs) c.requires_grad = m.requires_grad;
        Compute.train();
    }

    /// <summary>The bfloat16 network that runs forward and backward.</summary>
    public CrateModel Compute { get; }

    /// <summary>Casts the master weights into the copy and clears its gradients.</summary>
    public void PullWeights()
    {
        // Every read of .grad is a new handle on the gradient; the scope closes them.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach ((Parameter m, Parameter c) in pairs)
        {
            c.copy_(m);
            c.grad?.zero_();
        }
    }

    /// <summary>
    /// Casts the copy's gradients onto the master weights (float32): into the masters' gradients where they exist,
    /// so no new float32 gradient is allocated after the first step, else as their new gradients.
    /// </summary>
    public void PushGradients()
    {
        // The scope closes the handles that .grad reads return and the first step's casts: a gradient set on a
        // parameter is held by libtorch itself, not by the handle it was set from.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach ((Parameter m, Parameter c) in pairs)
        {
            if (c.grad is not Tensor computed) continue;
            if (m.grad is Tensor master) master.copy_(computed);
            else m.grad = computed.to(m.dtype);
        }
    }

    public void Dispose() => Compute.Dispose();
}
