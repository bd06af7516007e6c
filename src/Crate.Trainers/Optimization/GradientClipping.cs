using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers.Optimization;

/// <summary>Clipping of the gradients' global L2 norm, as torch.nn.utils.clip_grad_norm_.</summary>
internal static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by min(1, max / ‖g‖) where ‖g‖ is the L2 norm of all gradients together; returns ‖g‖
    /// before clipping.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The norm bound must be positive.");
        Tensor[] gradients = parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        if (gradients.Length == 0) return 0;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double norm = Math.Sqrt(gradients.Sum(g => g.to_type(ScalarType.Float64).square().sum().item<double>()));
        double scale = maxNorm / (norm + 1e-6);
        if (scale < 1)
            foreach (Tensor gradient in gradients) gradient.mul_(scale);
        return norm;
    }
}
