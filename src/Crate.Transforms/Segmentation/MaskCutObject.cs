namespace Crate.Transforms.Segmentation;

/// <summary>One object MaskCut found, at grid (patch) resolution.</summary>
/// <param name="Mask">The patches of the object: the 4-connected component of the cut that holds the seed. A later
/// mask may overlap an earlier one, or repeat one that is not its immediate predecessor (the zeroed patches of taken
/// objects stay in the graph, and CutLER's IoU check looks at the previous mask only);
/// <see cref="MaskCutResult.Upsample"/> removes the overlap, at any resolution including the grid's own.</param>
/// <param name="Box">The tightest box around <paramref name="Mask"/>, in patches.</param>
/// <param name="Score">1 − Ncut(mask)/2 in [0, 1] on the graph the mask was cut from, where
/// Ncut(S) = cut(S, S̄)/vol(S) + cut(S, S̄)/vol(S̄) is the normalized-cut cost that the Fiedler vector minimises in
/// relaxation: 1 for an object with no above-τ affinity to the rest, falling as the cut severs more affinity.</param>
/// <param name="Eigenvalue">λ₂ of (D − A)v = λDv for this cut, the relaxed normalized-cut value.</param>
public sealed record MaskCutObject(BinaryMask Mask, MaskBox Box, double Score, double Eigenvalue);
