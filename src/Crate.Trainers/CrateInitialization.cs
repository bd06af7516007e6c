using Crate.Transforms.Network;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Trainers;

/// <summary>How the trainer initialises a network it trains from scratch (never one it loads).</summary>
public enum CrateInitialization
{
    /// <summary>
    /// The reference code's initialisation, PyTorch's defaults: every linear map kaiming-uniform with a = √5, each
    /// ISTA dictionary D kaiming-uniform with a = 0 (entries uniform in ±√(6/d)), the positional embedding and the
    /// [CLS] token standard normal.
    /// </summary>
    Reference,

    /// <summary>
    /// The signal model CRATE is derived from (paper Section 2.1): each MSSA layer's subspace bases U_[K] orthonormal
    /// (the K·p rows of the projection orthonormal when K·p ≤ d, its columns when K·p &gt; d), each ISTA dictionary
    /// D orthogonal (DᵀD = I, the "sparsifying orthogonal dictionary" of eq. 7), and the positional embedding normal
    /// with standard deviation 0.02 (ViT's), so that MSSA's similarities ⟨U_k*z_i, U_k*z_j⟩ compare what the patches
    /// show rather than a fixed random affinity between positions. Everything else as <see cref="Reference"/>;
    /// ViT's attention and MLP blocks keep PyTorch's defaults. Measured in docs/emergence.md ("Getting CRATE off the
    /// plateau"): under the reference initialisation a small CRATE's [CLS] attention does not learn to find the
    /// object and its loss stays near ln C for hundreds of steps; under this one it learns as fast as ViT. The cost: a
    /// task whose classes differ only in position learns more slowly, as positions start small (measured there too).
    /// </summary>
    Orthogonal,

    /// <summary>
    /// <see cref="Orthogonal"/>, and the blocks CRATE lacks initialised the same way, so that ViT and the ablations can
    /// be compared with CRATE under an equivalent initialisation: every MHSA block's query, key, value and output
    /// matrices and every MLP's two matrices orthogonal (orthonormal rows or columns, as <c>nn.init.orthogonal_</c>);
    /// biases, the patch embedding and the head as <see cref="Reference"/>. A CRATE network (MSSA and ISTA) is
    /// initialised exactly as under <see cref="Orthogonal"/>.
    /// </summary>
    OrthogonalAllBlocks,
}

/// <summary>Applies a <see cref="CrateInitialization"/> to a freshly built network.</summary>
internal static class NetworkInitialization
{
    /// <summary>Standard deviation of the positional embedding under <see cref="CrateInitialization.Orthogonal"/>.</summary>
    public const double PositionalStd = 0.02;

    /// <summary>
    /// Re-initialises <paramref name="model"/> in place, drawing from <paramref name="generator"/> (the process-wide
    /// generator when null); <see cref="CrateInitialization.Reference"/> leaves it as built.
    /// </summary>
    public static void Apply(CrateModel model, CrateInitialization initialization, Generator? generator = null)
    {
        if (initialization == CrateInitialization.Reference) return;
        bool allBlocks = initialization == CrateInitialization.OrthogonalAllBlocks;
        using var noGrad = no_grad();
        foreach ((string name, Parameter parameter) in model.named_parameters())
            if (name == "pos_embedding")
            {
                using Tensor normal = ParameterInitialization.Normal(parameter.shape, generator);
                parameter.copy_(normal.mul_(PositionalStd));
            }
        foreach ((string _, nn.Module module) in model.named_modules())
        {
            Parameter[] targets = module switch
            {
                MultiHeadSubspaceSelfAttention attention => [attention.named_parameters().Single(p => p.name == "subspace_bases.weight").parameter],
                Ista ista => [ista.Dictionary],
                // The blocks CRATE lacks: every weight matrix of MHSA (query, key, value, output) and of the MLP.
                MultiHeadSelfAttention or Mlp when allBlocks => module.named_parameters().Where(p => p.name.EndsWith(".weight", StringComparison.Ordinal) && p.parameter.dim() == 2)
                    .OrderBy(p => p.name, StringComparer.Ordinal).Select(p => p.parameter).ToArray(),
                _ => [],
            };
            foreach (Parameter target in targets)
            {
                using Tensor orthogonal = ParameterInitialization.Orthogonal(target.shape[0], target.shape[1], generator);
                target.copy_(orthogonal);
            }
        }
    }
}
