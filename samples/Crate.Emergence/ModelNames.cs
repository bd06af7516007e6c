using Crate.Transforms.Network;

namespace Crate.Emergence;

/// <summary>The paper's names for the variants and their blocks (Table 2).</summary>
public static class ModelNames
{
    /// <summary>"CRATE", "ViT", "CRATE-MHSA", "CRATE-MLP", "CRATE-sth".</summary>
    public static string Of(CrateVariant variant) => variant switch
    {
        CrateVariant.Crate => "CRATE",
        CrateVariant.ViT => "ViT",
        CrateVariant.CrateMhsa => "CRATE-MHSA",
        CrateVariant.CrateMlp => "CRATE-MLP",
        CrateVariant.CrateSoftThreshold => "CRATE-sth",
        _ => variant.ToString(),
    };

    /// <summary>The report's name of <paramref name="model"/>'s network at its initialisation, "CRATE untrained" (its untrained floor).</summary>
    public static string Untrained(string model) => model + " untrained";

    /// <summary>The attention block: "MSSA" (U as query, key and value) or "MHSA".</summary>
    public static string Attention(CrateVariant variant) => variant is CrateVariant.ViT or CrateVariant.CrateMhsa ? "MHSA" : "MSSA";

    /// <summary>The second block: "ISTA", "MLP" or "soft threshold".</summary>
    public static string Nonlinearity(CrateVariant variant) => variant switch
    {
        CrateVariant.ViT or CrateVariant.CrateMlp => "MLP",
        CrateVariant.CrateSoftThreshold => "ISTA (soft threshold)",
        _ => "ISTA",
    };
}
