using System.Text.RegularExpressions;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// The correspondence between the reference PyTorch CRATE's state-dict keys and <see cref="Network.CrateModel"/>'s
/// parameter names (the same tensors, the same layouts; only the names differ).
/// </summary>
internal static class ReferenceKeyMap
{
    // {l} is a layer index, {w} is weight or bias.
    private static readonly (string Reference, string Ours)[] Templates =
    {
        ("to_patch_embedding.1.{w}", "patch_embedding.patch_norm.{w}"),
        ("to_patch_embedding.2.{w}", "patch_embedding.projection.{w}"),
        ("to_patch_embedding.3.{w}", "patch_embedding.token_norm.{w}"),
        ("cls_token", "cls_token"),
        ("pos_embedding", "pos_embedding"),
        ("transformer.layers.{l}.0.norm.{w}", "layers.{l}.attention_norm.{w}"),
        ("transformer.layers.{l}.0.fn.qkv.weight", "layers.{l}.attention.subspace_bases.weight"),
        ("transformer.layers.{l}.0.fn.to_out.0.{w}", "layers.{l}.attention.output_projection.{w}"),
        ("transformer.layers.{l}.1.norm.{w}", "layers.{l}.feedforward_norm.{w}"),
        ("transformer.layers.{l}.1.fn.weight", "layers.{l}.feedforward.dictionary"),
        ("mlp_head.0.{w}", "head_norm.{w}"),
        ("mlp_head.1.{w}", "head.{w}"),
    };

    private static readonly (Regex Pattern, string Target)[] ToOursRules =
        Templates.Select(t => (Compile(t.Reference), t.Ours)).ToArray();

    private static readonly (Regex Pattern, string Target)[] ToReferenceRules =
        Templates.Select(t => (Compile(t.Ours), t.Reference)).ToArray();

    /// <summary>Our name for a reference key, or null when the reference has no such key.</summary>
    public static string? ToOurs(string referenceKey) => Translate(referenceKey, ToOursRules);

    /// <summary>The reference key for one of our names, or null when the reference has no counterpart.</summary>
    public static string? ToReference(string ourKey) => Translate(ourKey, ToReferenceRules);

    private static string? Translate(string key, (Regex Pattern, string Target)[] rules)
    {
        foreach ((Regex pattern, string target) in rules)
        {
            Match match = pattern.Match(key);
            if (match.Success)
                return target.Replace("{l}", match.Groups["l"].Value).Replace("{w}", match.Groups["w"].Value);
        }
        return null;
    }

    private static Regex Compile(string template) =>
        new("^" + Regex.Escape(template).Replace(@"\{l}", @"(?<l>\d+)").Replace(@"\{w}", "(?<w>weight|bias)") + "$",
            RegexOptions.CultureInvariant);
}
