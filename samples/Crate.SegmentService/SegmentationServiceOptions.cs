namespace Crate.SegmentService;

/// <summary>
/// The service's settings, bound from the configuration section <see cref="Section"/> ("Segmentation"): appsettings.json,
/// environment variables (<c>Segmentation__ModelPath</c>) or the command line (<c>--Segmentation:ModelPath=model.zip</c>).
/// </summary>
public sealed class SegmentationServiceOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Segmentation";

    /// <summary>
    /// The <c>CratePipelineFile</c> to serve: a fitted pipeline fed by one image column that outputs a classifier's
    /// Score (with its class names) and CrateMaskCut's columns under their default names (<c>make-model</c> writes
    /// one). Null or empty: a small default is trained on the embedded shapes dataset at startup (see
    /// <see cref="DefaultModel"/>). Default null.
    /// </summary>
    public string? ModelPath { get; set; }

    /// <summary>The pipeline's image column. Default "Image".</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The pipeline's column of class probabilities, whose slot names are the class names. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Predictions that run at once, each on a pooled PredictionEngine; further requests wait for a free one.
    /// Default: the number of logical processors.</summary>
    public int MaxConcurrentPredictions { get; set; } = Environment.ProcessorCount;

    /// <summary>The largest upload accepted, in bytes (the image file itself; a multipart envelope may add up to
    /// 64 KiB). Larger ones get 413. Default 16 MiB.</summary>
    public long MaxUploadBytes { get; set; } = 16L << 20;

    /// <summary>The most pixels (width·height) an image may have; read from the file's header, before decoding, so a
    /// small file that would decode to gigabytes is refused with 422. Default 4096·4096.</summary>
    public long MaxImagePixels { get; set; } = 4096L * 4096;

    /// <summary>
    /// The most pixels of decoded images that requests hold at once (width·height summed over the requests between
    /// decoding and their response); a request whose image does not fit waits its turn, and one larger than the whole
    /// budget runs alone. A pixel costs about 70 bytes while it is predicted (the RGBA image, and the float planes and
    /// tensors of each read-out at the image's size), so this bounds the service's memory under concurrent large
    /// uploads. Default 4096·4096: one image of the largest size at a time, about a thousand 128×128 ones.
    /// </summary>
    public long MaxDecodedPixelsInFlight { get; set; } = 4096L * 4096;

    /// <summary>What is trained when <see cref="ModelPath"/> is not set.</summary>
    public DefaultModelOptions DefaultModel { get; set; } = new();

    /// <summary>Checks the settings; the message names the setting.</summary>
    /// <exception cref="InvalidOperationException">A setting is out of range.</exception>
    public void Validate()
    {
        static void Require(bool ok, string setting, string rule)
        {
            if (!ok) throw new InvalidOperationException($"Configuration {Section}:{setting} {rule}.");
        }
        Require(!string.IsNullOrWhiteSpace(ImageColumnName), nameof(ImageColumnName), "must name a column");
        Require(!string.IsNullOrWhiteSpace(ScoreColumnName), nameof(ScoreColumnName), "must name a column");
        Require(MaxConcurrentPredictions >= 1, nameof(MaxConcurrentPredictions), $"must be at least 1 (is {MaxConcurrentPredictions})");
        Require(MaxUploadBytes >= 1, nameof(MaxUploadBytes), $"must be positive (is {MaxUploadBytes})");
        Require(MaxImagePixels >= 1, nameof(MaxImagePixels), $"must be positive (is {MaxImagePixels})");
        Require(MaxDecodedPixelsInFlight >= 1, nameof(MaxDecodedPixelsInFlight), $"must be positive (is {MaxDecodedPixelsInFlight})");
        DefaultModel.Validate();
    }
}

/// <summary>
/// The model the service trains at startup when no model file is configured: a small CRATE classifier of the
/// embedded shapes dataset (32×32 images, outline × texture classes) with MaskCut on its second layer. With the
/// defaults it trains in about 25 s of CPU time (85 % held-out accuracy, docs/serving.md) and is cached for later starts.
/// </summary>
public sealed class DefaultModelOptions
{
    /// <summary>Training images drawn from the embedded dataset. Default 2000.</summary>
    public int TrainingImages { get; set; } = 2000;

    /// <summary>Training epochs. Default 8.</summary>
    public int Epochs { get; set; } = 8;

    /// <summary>The side, in pixels, that MaskCut resizes images to (a multiple of the patch size 8: 96 gives a 12×12
    /// grid of patches, the network's positions interpolated from its 4×4 training grid). Default 96.</summary>
    public int MaskCutImageSide { get; set; } = 96;

    /// <summary>The layer (0-based) whose head features MaskCut cuts. Default 1, the second of the four: this small
    /// network separates objects best there (<see cref="DefaultModel"/>); 3 is the last, the paper's choice.</summary>
    public int MaskCutLayer { get; set; } = 1;

    /// <summary>The seed of the dataset and of the training. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Where the trained model is kept, so that later starts with the same settings load it instead of
    /// training again (training is deterministic); empty to train at every start. Default: a folder
    /// "crate-segment-service" in the system's temporary directory.</summary>
    public string? CacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "crate-segment-service");

    internal void Validate()
    {
        if (TrainingImages < 8) throw new InvalidOperationException($"Configuration {SegmentationServiceOptions.Section}:DefaultModel:TrainingImages must be at least 8 (is {TrainingImages}).");
        if (Epochs < 1) throw new InvalidOperationException($"Configuration {SegmentationServiceOptions.Section}:DefaultModel:Epochs must be at least 1 (is {Epochs}).");
        if (MaskCutImageSide < DefaultModel.PatchSize || MaskCutImageSide % DefaultModel.PatchSize != 0)
            throw new InvalidOperationException(
                $"Configuration {SegmentationServiceOptions.Section}:DefaultModel:MaskCutImageSide must be a positive multiple of the patch size {DefaultModel.PatchSize} (is {MaskCutImageSide}).");
        if (MaskCutLayer < 0 || MaskCutLayer >= DefaultModel.Depth)
            throw new InvalidOperationException(
                $"Configuration {SegmentationServiceOptions.Section}:DefaultModel:MaskCutLayer must be a layer of the default network, 0 to {DefaultModel.Depth - 1} (is {MaskCutLayer}).");
    }
}
