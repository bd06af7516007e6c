using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Crate.Transforms.Network;

/// <summary>
/// The CRATE classifier f (eq. 4) with its head W (eq. 9): patch embedding f⁰, [CLS] token, positional
/// embedding, L layers f^ℓ, then LayerNorm and a linear head on the pooled token. The same class builds the
/// paper's ablations (<see cref="CrateVariant"/>). Input images are float32 [B, C, H, W] with H and W multiples
/// of the patch size; a grid other than the native one interpolates the positional embedding.
/// </summary>
public sealed class CrateModel : nn.Module<Tensor, Tensor>
{
    private readonly PatchEmbedding patch_embedding;
    private readonly Parameter cls_token;
    private readonly Parameter pos_embedding;
    private readonly ModuleList<CrateLayer> layers;
    private readonly LayerNorm head_norm;
    private readonly Linear head;

    /// <summary>
    /// Builds a freshly initialised network (PyTorch's default initialisation, as the reference), drawing every
    /// random value from <paramref name="generator"/>. Pass a generator of your own (<c>new torch.Generator(seed)</c>)
    /// for weights that depend on nothing else in the process; null draws from the process-wide generator, as
    /// PyTorch does.
    /// </summary>
    public CrateModel(CrateArchitecture architecture, Generator? generator = null) : base(nameof(CrateModel))
    {
        ArgumentNullException.ThrowIfNull(architecture);
        architecture.Validate();
        Architecture = architecture;
        int d = architecture.EmbeddingDim;
        patch_embedding = new PatchEmbedding(architecture.PatchSize, architecture.Channels, d, generator);
        cls_token = new Parameter(ParameterInitialization.Normal([1, 1, d], generator));
        pos_embedding = new Parameter(ParameterInitialization.Normal([1, architecture.PatchCount + 1, d], generator));
        layers = nn.ModuleList(Enumerable.Range(0, architecture.Depth).Select(_ => new CrateLayer(architecture, generator)).ToArray());
        head_norm = nn.LayerNorm(d);
        head = ParameterInitialization.Linear(d, architecture.ClassCount, hasBias: true, generator);
        RegisterComponents();
    }

    /// <summary>The shapes and variant this network was built with.</summary>
    public CrateArchitecture Architecture { get; }

    /// <summary>The device the parameters live on.</summary>
    public Device Device => cls_token.device;

    /// <summary>The element type of the weights (float32 unless the network was cast); images must be of this type.</summary>
    public ScalarType ElementType => cls_token.dtype;

    /// <summary>
    /// A copy of this network's weights on <paramref name="device"/> in <paramref name="elementType"/>, in evaluation
    /// mode and without gradients; this network is left exactly as it was. The copy belongs to the caller.
    /// </summary>
    public CrateModel Copy(Device device, ScalarType elementType)
    {
        ArgumentNullException.ThrowIfNull(device);
        // The copy's initial values are overwritten at once: a private generator keeps the process-wide one untouched.
        using var scratch = new Generator(0);
        var copy = new CrateModel(Architecture, scratch);
        try
        {
            using (no_grad())
            {
                Dictionary<string, Tensor> source = state_dict();
                foreach ((string name, Tensor target) in copy.state_dict())
                    target.copy_(source[name]);
            }
            copy.to(device).to(elementType);
            foreach (Parameter parameter in copy.parameters()) parameter.requires_grad = false;
            copy.eval();
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Images [B, C, H, W] → logits [B, C].</summary>
    public override Tensor forward(Tensor images) => InCpuMicroBatches(images, batch => Classify(EncodeBatch(batch)));

    /// <summary>Images [B, C, H, W] → the final tokens Z^{L+1} [B, N+1, d], [CLS] first.</summary>
    public Tensor Encode(Tensor images) => InCpuMicroBatches(images, EncodeBatch);

    private Tensor EncodeBatch(Tensor images)
    {
        using var scope = NewDisposeScope();
        Tensor tokens = Embed(images);
        foreach (CrateLayer layer in layers)
            tokens = layer.forward(tokens);
        return tokens.MoveToOuterDisposeScope();
    }

    /// <summary>Runs <paramref name="pass"/> over micro-batches of the images (see <see cref="MicroBatchSize"/>) and
    /// concatenates the results.</summary>
    private Tensor InCpuMicroBatches(Tensor images, Func<Tensor, Tensor> pass)
    {
        (int gridHeight, int gridWidth) = ValidateImages(images);
        long bytesPerImage = WidestActivationBytes(gridHeight, gridWidth, images.element_size());
        long slice = MicroBatchSize(images, bytesPerImage);
        if (images.shape[0] <= slice)
            return pass(images);
        using var scope = NewDisposeScope();
        Tensor[] outputs = images.split(slice).Select(part => AfterLargePass(pass(part), bytesPerImage)).ToArray();
        return cat(outputs, 0).MoveToOuterDisposeScope();
    }

    /// <summary><paramref name="result"/>, after giving the freed heap back when one image's activations are large
    /// (<see cref="NativeHeap.ReleaseAfterPass"/>): without it the process grows with the batch.</summary>
    private static T AfterLargePass<T>(T result, long bytesPerImage)
    {
        NativeHeap.ReleaseAfterPass(bytesPerImage);
        return result;
    }

    /// <summary>The largest activation one image makes in a layer: N+1 tokens of the widest of d, K·p (and the MLP's
    /// hidden width for the variants that have one), in bytes.</summary>
    private long WidestActivationBytes(int gridHeight, int gridWidth, long elementSize)
    {
        long widest = Math.Max(Architecture.EmbeddingDim, Architecture.InnerDim);
        if (Architecture.Variant is CrateVariant.ViT or CrateVariant.CrateMlp)
            widest = Math.Max(widest, (long)Architecture.MlpRatio * Architecture.EmbeddingDim);
        return ((long)gridHeight * gridWidth + 1) * widest * elementSize;
    }

    /// <summary>
    /// How many images one pass takes, given the largest activation one image makes. On the CPU, as many as keep that
    /// activation under <see cref="CpuActivationBudgetBytes"/>: above glibc's 32 MiB mmap ceiling every new tensor is
    /// fresh mapped memory, and page-faulting it costs more than the arithmetic (measured on CRATE-S/8, batch 32 ran at
    /// 60% of the matrix-product rate against 83% for batch 1; docs/performance.md). On a GPU, as many as fit in half
    /// of the device's free memory at <see cref="GpuActivationsPerPass"/> such activations per image, counting the
    /// blocks libtorch's cache keeps from earlier passes as free (<see cref="DeviceMemory.FreeBytes"/>); when the free
    /// memory cannot be read, the batch whole.
    /// </summary>
    private static long MicroBatchSize(Tensor images, long bytesPerImage)
    {
        long batch = images.shape[0];
        if (images.device_type == DeviceType.CPU)
            return Math.Clamp(CpuActivationBudgetBytes / bytesPerImage, 1, batch);
        if (DeviceMemory.FreeBytes(images.device) is not long free) return batch;
        long slice = Math.Clamp(free / 2 / (GpuActivationsPerPass * bytesPerImage), 1, batch);
        DeviceMemory.RecordPass(images.device, slice * GpuActivationsPerPass * bytesPerImage);
        return slice;
    }

    /// <summary>Largest activation one CPU micro-batch may make, in bytes (see <see cref="MicroBatchSize"/>).</summary>
    private const long CpuActivationBudgetBytes = 8L << 20;

    /// <summary>Activations of the largest size alive at once in a layer's pass (input, normalised tokens, head
    /// features, mixture, ISTA's product and its code), a generous count for sizing GPU passes.</summary>
    private const long GpuActivationsPerPass = 8;

    /// <summary>
    /// The f⁰ operator (Algorithm 1, lines 8-11): patch tokens with the [CLS] token prepended and the positional
    /// embedding added, Z¹ [B, N+1, d].
    /// </summary>
    public Tensor Embed(Tensor images)
    {
        (int gridHeight, int gridWidth) = ValidateImages(images);
        using var scope = NewDisposeScope();
        Tensor patches = patch_embedding.forward(images);
        Tensor cls = cls_token.expand(images.shape[0], -1, -1);
        Tensor tokens = cat(new[] { cls, patches }, 1).Plus(PositionalEmbeddingFor(gridHeight, gridWidth));
        return tokens.MoveToOuterDisposeScope();
    }

    /// <summary>The patch tokens alone, f⁰ before [CLS] and positions: [B, N, d] (micro-batched as <see cref="forward"/>).</summary>
    public Tensor EmbedPatches(Tensor images) => InCpuMicroBatches(images, patch_embedding.forward);

    /// <summary>Tokens [B, N+1, d] → logits [B, C]: pooling, LayerNorm, linear head (eq. 9).</summary>
    public Tensor Classify(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor pooled = Architecture.Pooling == TokenPooling.Cls ? tokens.select(1, 0) : tokens.mean(new long[] { 1 });
        return head.forward(head_norm.forward(pooled)).MoveToOuterDisposeScope();
    }

    /// <summary>The positional embedding for an h×w patch grid, [1, h·w+1, d] (bicubic when not native).</summary>
    public Tensor PositionalEmbeddingFor(int gridHeight, int gridWidth) =>
        PositionalEmbedding.Resize(pos_embedding, Architecture.GridHeight, Architecture.GridWidth, gridHeight, gridWidth);

    /// <summary>
    /// One forward pass that also keeps what <paramref name="request"/> asks for: per layer the attention,
    /// the [CLS] attention maps of eq. (10), the head features, the output tokens and the ISTA sparsity. Memory stays
    /// bounded: the (N+1)×(N+1) attention is built only when <see cref="IntrospectionRequest.Attention"/> asks for it
    /// (the [CLS] rows come from the [CLS] query alone), and the images go through in micro-batches sized as the
    /// plain forward pass sizes them, counting the attention matrices when they are asked for.
    /// </summary>
    public CrateIntrospection Introspect(Tensor images, IntrospectionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var wanted = new HashSet<int>(request.Layers ?? Enumerable.Range(0, Architecture.Depth));
        foreach (int layer in wanted)
            if (layer < 0 || layer >= Architecture.Depth)
                throw new ArgumentOutOfRangeException(nameof(request), layer,
                    $"Layer index {layer} is out of range: the model has {Architecture.Depth} layers (0..{Architecture.Depth - 1}).");
        (int gridHeight, int gridWidth) = ValidateImages(images);
        long elementSize = images.element_size();
        long bytesPerImage = WidestActivationBytes(gridHeight, gridWidth, elementSize);
        if (request.Attention)
        {
            long tokens = (long)gridHeight * gridWidth + 1;
            bytesPerImage = Math.Max(bytesPerImage, Architecture.Heads * tokens * tokens * elementSize);
        }
        long slice = MicroBatchSize(images, bytesPerImage);
        if (images.shape[0] <= slice)
            return IntrospectBatch(images, wanted, request, gridHeight, gridWidth);
        using var scope = NewDisposeScope();
        CrateIntrospection[] parts = images.split(slice)
            .Select(part => AfterLargePass(IntrospectBatch(part, wanted, request, gridHeight, gridWidth), bytesPerImage)).ToArray();
        var layers = new List<LayerIntrospection>();
        for (int i = 0; i < parts[0].Layers.Count; i++)
        {
            LayerIntrospection[] slices = parts.Select(p => p.Layers[i]).ToArray();
            layers.Add(new LayerIntrospection
            {
                Layer = slices[0].Layer,
                Attention = Concatenate(slices.Select(l => l.Attention)),
                ClsAttention = Concatenate(slices.Select(l => l.ClsAttention)),
                HeadFeatures = Concatenate(slices.Select(l => l.HeadFeatures)),
                Output = Concatenate(slices.Select(l => l.Output)),
                IstaZeroFraction = Concatenate(slices.Select(l => l.IstaZeroFraction)),
            });
        }
        return new CrateIntrospection
        {
            Logits = Concatenate(parts.Select(p => p.Logits))!, Layers = layers, GridHeight = gridHeight, GridWidth = gridWidth,
        };
    }

    /// <summary>The micro-batches' read-outs joined along the batch, moved out of the caller's scope; null when not read.</summary>
    private static Tensor? Concatenate(IEnumerable<Tensor?> parts)
    {
        Tensor?[] all = parts.ToArray();
        return all[0] is null ? null : cat(all.Select(t => t!).ToArray(), 0).MoveToOuterDisposeScope();
    }

    private CrateIntrospection IntrospectBatch(Tensor images, HashSet<int> wanted, IntrospectionRequest request, int gridHeight, int gridWidth)
    {
        using var scope = NewDisposeScope();
        Tensor tokens = Embed(images);
        var readouts = new List<LayerIntrospection>();
        for (int l = 0; l < Architecture.Depth; l++)
        {
            if (wanted.Contains(l))
            {
                (tokens, LayerIntrospection readout) = layers[l].ForwardWithReadout(tokens, l, request);
                readouts.Add(readout);
            }
            else
            {
                tokens = layers[l].forward(tokens);
            }
        }
        Tensor logits = Classify(tokens);
        foreach (LayerIntrospection readout in readouts) MoveOut(readout);
        return new CrateIntrospection
        {
            Logits = logits.MoveToOuterDisposeScope(), Layers = readouts, GridHeight = gridHeight, GridWidth = gridWidth,
        };
    }

    /// <summary>
    /// Checks that <paramref name="images"/> is a [B, C, H, W] batch of the weights' type (float32 unless the model was
    /// cast) on this model's device, with C the
    /// model's channels and H, W positive multiples of the patch size; returns the patch grid.
    /// </summary>
    public (int GridHeight, int GridWidth) ValidateImages(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        int p = Architecture.PatchSize;
        string shape = "[" + string.Join(", ", images.shape) + "]";
        if (images.dim() != 4)
            throw new ArgumentException($"Images must be a [B, C, H, W] tensor; got shape {shape}.", nameof(images));
        if (images.dtype != cls_token.dtype)
            throw new ArgumentException($"Images must be {Name(cls_token.dtype)}, as the model's weights; got {Name(images.dtype)}.", nameof(images));
        if (images.shape[0] == 0)
            throw new ArgumentException($"The image batch is empty (shape {shape}).", nameof(images));
        if (images.shape[1] != Architecture.Channels)
            throw new ArgumentException($"Images have {images.shape[1]} channels; the model expects {Architecture.Channels} (shape {shape}).", nameof(images));
        long height = images.shape[2], width = images.shape[3];
        if (height < p || width < p)
            throw new ArgumentException($"Images of {height}×{width} are smaller than one {p}×{p} patch.", nameof(images));
        if (height % p != 0 || width % p != 0)
            throw new ArgumentException($"Image size {height}×{width} is not divisible by the patch size {p}.", nameof(images));
        if (images.device.type != Device.type || images.device.index != Device.index)
            throw new ArgumentException($"Images are on {images.device} but the model is on {Device}.", nameof(images));
        return ((int)(height / p), (int)(width / p));
    }

    private static string Name(ScalarType type) => type.ToString().ToLowerInvariant();

    private static void MoveOut(LayerIntrospection readout)
    {
        readout.Attention?.MoveToOuterDisposeScope();
        readout.ClsAttention?.MoveToOuterDisposeScope();
        readout.HeadFeatures?.MoveToOuterDisposeScope();
        readout.Output?.MoveToOuterDisposeScope();
        readout.IstaZeroFraction?.MoveToOuterDisposeScope();
    }
}
