using System.Text.RegularExpressions;
using Crate.Transforms.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Checkpoints;

/// <summary>
/// Imports a checkpoint of the reference PyTorch CRATE (keys <c>to_patch_embedding.*</c>, <c>transformer.layers.*</c>,
/// <c>mlp_head.*</c>; see the reference spec) into a <see cref="CrateModel"/>: reads it safely with
/// <see cref="TorchCheckpointReader"/>, infers the architecture from the tensor shapes and
/// <see cref="CheckpointImportOptions"/>, renames the keys and loads the weights with name and shape checks.
/// </summary>
public static partial class CrateCheckpointImporter
{
    private const string ClsToken = "cls_token";
    private const string PosEmbedding = "pos_embedding";
    private const string PatchNorm = "to_patch_embedding.1.weight";
    private const string FirstSubspaces = "transformer.layers.0.0.fn.qkv.weight";
    private const string HeadWeight = "mlp_head.1.weight";

    /// <summary>Imports the checkpoint at <paramref name="path"/>; see the overload with a report.</summary>
    public static CrateModel Import(string path, CheckpointImportOptions options) => Import(path, options, out _);

    /// <summary>
    /// Imports the checkpoint at <paramref name="path"/>. Inferred: d from <c>cls_token</c>, depth from the layer
    /// indices, P from <c>to_patch_embedding.1</c> (C·P² entries), the grid from <c>pos_embedding</c> (square unless
    /// an image side is given), K·p from the first <c>qkv</c> and the class count from <c>mlp_head.1</c>.
    /// <paramref name="report"/> tells what was loaded; after a lenient import (<see cref="CheckpointImportOptions.Strict"/>
    /// false) it lists what was not. Names in it are Crate.MLNet's; exception messages add the reference names.
    /// </summary>
    /// <exception cref="ArgumentException">The options are incomplete or contradict the checkpoint (no K, a
    /// non-square grid without an image side, a K that does not divide K·p, a configuration of other sizes, a
    /// variant without a reference layout).</exception>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointFormatException">The file is not a readable checkpoint, or its shapes cannot be
    /// those of a CRATE network.</exception>
    /// <exception cref="CheckpointMismatchException">A strict import found missing, unexpected or mis-shaped keys (all
    /// are listed), or a key needed to infer the architecture is absent.</exception>
    public static CrateModel Import(string path, CheckpointImportOptions options, out CheckpointLoadReport report)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptions(options);
        Dictionary<string, Tensor> checkpoint = TorchCheckpointReader.ReadStateDict(path);
        try
        {
            CrateArchitecture architecture = options.Architecture is { } given
                ? options.DropHead ? given with { ClassCount = options.ClassCount!.Value } : given
                : InferArchitecture(checkpoint, options, path);

            var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var referenceNames = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach ((string key, Tensor value) in checkpoint)
            {
                // Keys the reference does not have keep their name and end up unexpected.
                string name = ReferenceKeyMap.ToOurs(key) ?? key;
                if (referenceNames.TryGetValue(name, out string? first))
                    throw new CheckpointFormatException($"'{path}': the keys '{first}' and '{key}' both stand for '{name}'.");
                referenceNames[name] = key;
                weights[name] = value;
            }

            return StateDictLoader.CreateLoaded(architecture, weights, path, options.Strict, options.Device, out report,
                skip: options.DropHead ? IsHead : null,
                displayName: name => WithReferenceName(name, referenceNames));
        }
        finally
        {
            foreach (Tensor tensor in checkpoint.Values)
                tensor.Dispose();
        }
    }

    /// <summary>The architecture <see cref="Import(string, CheckpointImportOptions)"/> would build, without building it.</summary>
    internal static CrateArchitecture ReadArchitecture(string path, CheckpointImportOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptions(options);
        if (options.Architecture is { } given)
            return options.DropHead ? given with { ClassCount = options.ClassCount!.Value } : given;
        Dictionary<string, Tensor> checkpoint = TorchCheckpointReader.ReadStateDict(path);
        try
        {
            return InferArchitecture(checkpoint, options, path);
        }
        finally
        {
            foreach (Tensor tensor in checkpoint.Values)
                tensor.Dispose();
        }
    }

    private static void ValidateOptions(CheckpointImportOptions options)
    {
        CrateVariant variant = options.Architecture?.Variant ?? options.Variant;
        if (variant is not (CrateVariant.Crate or CrateVariant.CrateSoftThreshold))
            throw new ArgumentException(
                $"Reference checkpoints exist only for CRATE and CRATE-sth layers; the variant {variant} has no reference key layout.", nameof(options));
        if (options.DropHead && options.ClassCount is null)
            throw new ArgumentException("DropHead needs ClassCount, the class count of the new head.", nameof(options));
        if (options.ClassCount is <= 0 || options.Heads is <= 0 || options.Channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), "ClassCount, Heads and Channels must be positive.");
        if (options.Architecture is null && options.Heads is null && options.ConfigName is null)
            throw new ArgumentException(
                "A reference checkpoint does not record the head count K: set Heads, ConfigName or Architecture.", nameof(options));
    }

    private static bool IsHead(string name) =>
        name.StartsWith("head.", StringComparison.Ordinal) || name.StartsWith("head_norm.", StringComparison.Ordinal);

    private static string WithReferenceName(string name, Dictionary<string, string> referenceNames)
    {
        string? reference = referenceNames.TryGetValue(name, out string? key) ? key : ReferenceKeyMap.ToReference(name);
        return reference is null || reference == name ? name : $"{name} ({reference})";
    }

    private static CrateArchitecture InferArchitecture(Dictionary<string, Tensor> checkpoint, CheckpointImportOptions options, string path)
    {
        string[] required = options.DropHead
            ? new[] { ClsToken, PosEmbedding, PatchNorm, FirstSubspaces }
            : new[] { ClsToken, PosEmbedding, PatchNorm, FirstSubspaces, HeadWeight };
        string[] absent = required.Where(key => !checkpoint.ContainsKey(key)).ToArray();
        if (absent.Length > 0)
            throw new CheckpointMismatchException(path, absent, Array.Empty<string>(), Array.Empty<ShapeMismatch>(),
                detail: "These reference keys give the architecture; if the file is not a reference CRATE checkpoint, pass " +
                        "CheckpointImportOptions.Architecture to have its keys checked against an explicit architecture.");

        int embeddingDim = (int)Dimension(checkpoint, ClsToken, rank: 3, index: 2, path);
        int depth = 1 + checkpoint.Keys.Select(LayerIndex).Max();
        int patchSize = PatchSize(Dimension(checkpoint, PatchNorm, rank: 1, index: 0, path), options.Channels, path);
        long patchCount = Dimension(checkpoint, PosEmbedding, rank: 3, index: 1, path) - 1;
        (int imageHeight, int imageWidth) = ImageSize(patchCount, patchSize, options);
        int innerDim = (int)Dimension(checkpoint, FirstSubspaces, rank: 2, index: 0, path);
        int classCount = options.ClassCount ?? (int)Dimension(checkpoint, HeadWeight, rank: 2, index: 0, path);
        int heads = Heads(options, embeddingDim, depth, innerDim);
        if (innerDim % heads != 0)
            throw new ArgumentException(
                $"The checkpoint's subspace projections have K·p = {innerDim} rows, which {heads} heads do not divide.", nameof(options));

        return new CrateArchitecture
        {
            EmbeddingDim = embeddingDim, Depth = depth, Heads = heads, HeadDim = innerDim / heads, PatchSize = patchSize,
            ImageHeight = imageHeight, ImageWidth = imageWidth, ClassCount = classCount, Channels = options.Channels,
            Pooling = options.Pooling, Variant = options.Variant,
        };
    }

    private static long Dimension(Dictionary<string, Tensor> checkpoint, string key, int rank, int index, string path)
    {
        long[] shape = checkpoint[key].shape;
        if (shape.Length != rank || shape[index] < 1)
            throw new CheckpointFormatException(
                $"'{path}': '{key}' has shape {ShapeMismatch.Format(shape)}, not the {rank}-dimensional shape of a CRATE checkpoint.");
        return shape[index];
    }

    private static int LayerIndex(string key)
    {
        Match match = LayerKey().Match(key);
        return match.Success && int.TryParse(match.Groups[1].ValueSpan, out int index) ? index : -1;
    }

    private static int PatchSize(long patchDim, int channels, string path)
    {
        long side = patchDim % channels == 0 ? ExactSquareRoot(patchDim / channels) : -1;
        if (side < 1)
            throw new CheckpointFormatException(
                $"'{path}': {PatchNorm} has {patchDim} entries, which is not C·P·P for C = {channels} channels and a square patch P " +
                "(set Channels if the images are not RGB).");
        return (int)side;
    }

    private static (int Height, int Width) ImageSize(long patchCount, int patchSize, CheckpointImportOptions options)
    {
        switch (options.ImageHeight, options.ImageWidth)
        {
            case ({ } height, { } width):
                // Both given: the strict load checks them against pos_embedding.
                return (height, width);
            case ({ } height, null):
                return (height, patchSize * OtherSide(patchCount, height, patchSize, nameof(options.ImageHeight)));
            case (null, { } width):
                return (patchSize * OtherSide(patchCount, width, patchSize, nameof(options.ImageWidth)), width);
            default:
                long side = ExactSquareRoot(patchCount);
                if (side < 1)
                    throw new ArgumentException(
                        $"pos_embedding holds {patchCount} patch positions, which is not a square grid: set ImageHeight and ImageWidth " +
                        $"(multiples of the patch size {patchSize}).", nameof(options));
                return ((int)side * patchSize, (int)side * patchSize);
        }
    }

    private static int OtherSide(long patchCount, int givenPixels, int patchSize, string given)
    {
        int givenPatches = givenPixels / patchSize;
        if (givenPixels % patchSize != 0 || givenPatches < 1 || patchCount % givenPatches != 0)
            throw new ArgumentException(
                $"{given} {givenPixels} does not fit pos_embedding's {patchCount} patch positions with patch size {patchSize}.", "options");
        return (int)(patchCount / givenPatches);
    }

    private static int Heads(CheckpointImportOptions options, int embeddingDim, int depth, int innerDim)
    {
        if (options.ConfigName is null)
            return options.Heads!.Value;
        CrateArchitecture named = CrateArchitecture.FromName(options.ConfigName);
        if (named.EmbeddingDim != embeddingDim || named.Depth != depth || named.InnerDim != innerDim)
            throw new ArgumentException(
                $"The checkpoint is not CRATE '{options.ConfigName}': it has d {embeddingDim}, {depth} layers and K·p {innerDim}; " +
                $"that configuration has d {named.EmbeddingDim}, {named.Depth} layers and K·p {named.InnerDim}.", nameof(options));
        if (options.Heads is { } heads && heads != named.Heads)
            throw new ArgumentException(
                $"Heads {heads} contradicts ConfigName '{options.ConfigName}', which has {named.Heads} heads.", nameof(options));
        return named.Heads;
    }

    private static long ExactSquareRoot(long value)
    {
        long root = (long)Math.Round(Math.Sqrt(value));
        return value > 0 && root * root == value ? root : -1;
    }

    [GeneratedRegex(@"^transformer\.layers\.(\d+)\.")]
    private static partial Regex LayerKey();
}
