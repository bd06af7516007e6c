using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// PyTorch's default initialisations, drawn from a generator the caller owns: a network built with its own
/// <see cref="Generator"/> neither reads nor advances the process-wide one, so two trainings (or a training and a
/// model load) in one process do not change each other's weights. A null generator draws from the process-wide
/// generator, as PyTorch does.
/// </summary>
internal static class ParameterInitialization
{
    /// <summary>
    /// nn.Linear with PyTorch's defaults: weight kaiming_uniform(a = √5), which is U(−1/√fan_in, 1/√fan_in), and the
    /// bias U(−1/√fan_in, 1/√fan_in).
    /// </summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias, Generator? generator)
    {
        double bound = 1 / Math.Sqrt(inFeatures);
        Tensor weight = Uniform([outFeatures, inFeatures], bound, generator);
        Tensor? bias = hasBias ? Uniform([outFeatures], bound, generator) : null;
        return nn.Linear(new Parameter(weight), bias is null ? null : new Parameter(bias));
    }

    /// <summary>kaiming_uniform(a) of a [out, in] matrix: U(−b, b) with b = √(6 / ((1 + a²)·fan_in)), fan_in = in.</summary>
    public static Tensor KaimingUniform(long rows, long columns, double a, Generator? generator) =>
        Uniform([rows, columns], Math.Sqrt(6 / ((1 + a * a) * columns)), generator);

    /// <summary>Standard normal entries.</summary>
    public static Tensor Normal(long[] shape, Generator? generator) => randn(shape, generator: generator);

    /// <summary>
    /// A [rows, columns] matrix with orthonormal rows (rows ≤ columns) or columns (rows &gt; columns), as
    /// <c>nn.init.orthogonal_</c> makes it: Q of the QR factorisation of a standard normal matrix, its columns' signs
    /// fixed by R's diagonal so that Q is uniformly (Haar) distributed. Drawn here because TorchSharp 0.107's
    /// <c>nn.init</c> functions ignore the generator they are given (see <see cref="Uniform"/>).
    /// </summary>
    public static Tensor Orthogonal(long rows, long columns, Generator? generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool wide = rows < columns;
        Tensor normal = randn(wide ? [columns, rows] : [rows, columns], generator: generator, dtype: float64);
        (Tensor q, Tensor r) = linalg.qr(normal);
        q = q.mul(r.diagonal().sign().unsqueeze(0));
        return (wide ? q.t() : q).to_type(float32).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// U(−bound, bound) as rand·2b − b: TorchSharp 0.107's <c>nn.init.uniform_</c> draws from the process-wide
    /// generator whatever generator it is given (measured: ReadoutIsolationTests), while <c>rand</c> honours it.
    /// </summary>
    private static Tensor Uniform(long[] shape, double bound, Generator? generator)
    {
        using (no_grad())
            return rand(shape, generator: generator).mul_(2 * bound).sub_(bound);
    }
}
