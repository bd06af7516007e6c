using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>Clipping of the gradients' global L2 norm, as torch.nn.utils.clip_grad_norm_.</summary>
internal static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by min(1, max / (‖g‖ + 10⁻⁶)) where ‖g‖ is the L2 norm of all gradients together, and
    /// returns ‖g‖ before clipping as a scalar tensor on the gradients' device, which the caller disposes (null when
    /// no parameter has a gradient). Everything stays on the device, as in PyTorch: the norm is never read back to
    /// the host, so a training step on a GPU does not wait here; read the returned tensor only when it is wanted.
    /// </summary>
    public static Tensor? ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The norm bound must be positive.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // Every read of .grad is a new handle on the gradient; the scope closes them.
        Tensor[] gradients = parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        if (gradients.Length == 0) return null;
        // ‖g‖ = ‖(‖g₁‖, …, ‖gₙ‖)‖, each norm accumulated in float32 whatever the gradients' type.
        Tensor norm = stack(gradients.Select(g => g.to_type(ScalarType.Float32).norm())).norm();
        using Scalar bound = maxNorm.ToScalar(), guard = 1e-6.ToScalar(), one = 1.0.ToScalar(); // held for the calls (Crate.Transforms.HeldScalars)
        Tensor scale = norm.add(guard).reciprocal_().mul_(bound).clamp_max_(one);
        foreach (Tensor gradient in gradients) gradient.mul_(scale.to_type(gradient.dtype));
        return norm.MoveToOuterDisposeScope();
    }
}
