namespace Crate.Transforms.Network;

/// <summary>
/// Which blocks a layer is built from: CRATE itself, or one of the paper's ablations (Section 4, Figure 13).
/// </summary>
public enum CrateVariant
{
    /// <summary>MSSA (eq. 5) with the skip of eq. (8), then ISTA (eq. 7) with no skip.</summary>
    Crate,

    /// <summary>Vision transformer: multi-head self-attention with separate query, key and value projections,
    /// then a pre-norm GELU MLP of hidden ratio 4, each with its own skip.</summary>
    ViT,

    /// <summary>CRATE with MSSA replaced by ViT's multi-head self-attention (MHSA + ISTA).</summary>
    CrateMhsa,

    /// <summary>CRATE with ISTA replaced by ViT's MLP and its skip (MSSA + MLP).</summary>
    CrateMlp,

    /// <summary>CRATE whose ISTA block soft-thresholds instead of applying ReLU (the "CRATE-sth" of Figure 13).</summary>
    CrateSoftThreshold,
}

/// <summary>How the final tokens become the vector the classification head reads.</summary>
public enum TokenPooling
{
    /// <summary>The [CLS] token (the reference's pool 'cls').</summary>
    Cls,

    /// <summary>The mean of all tokens, [CLS] included (the reference's pool 'mean').</summary>
    Mean,
}
