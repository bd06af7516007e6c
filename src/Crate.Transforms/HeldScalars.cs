using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms;

/// <summary>
/// Tensor arithmetic whose scalars stay alive for the whole native call. TorchSharp 0.107 turns a number operand
/// (<c>t * 0.5</c>, <c>t.mul_(beta)</c>, <c>add_(g, alpha: a)</c>) and the implicit alpha of 1 in <c>a + b</c>,
/// <c>add(b)</c> and <c>add_(b)</c> (not <c>sub</c>, which has none) into temporary <see cref="Scalar"/> objects whose native handles it hands
/// to libtorch without keeping the objects reachable; a garbage collection in that window lets the finalizer free the
/// scalar while libtorch reads it, which aborts the process ("Unknown scalar type", "toFloat … Expected false to be
/// true"). It happened in about one run in seven under load (docs/troubleshooting.md). The network's, optimizers' and
/// trainer's per-step arithmetic goes through here: 1 is one scalar rooted for the process, other numbers are held by
/// the caller's <c>using Scalar s = x.ToScalar();</c> for the call.
/// </summary>
internal static class HeldScalars
{
    /// <summary>1, rooted for the life of the process (never disposed): the alpha of a + b.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);
}
