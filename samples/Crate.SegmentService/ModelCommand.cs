using System.Diagnostics;
using System.Globalization;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.ML;

namespace Crate.SegmentService;

/// <summary>
/// <c>make-model</c>: writes a pipeline file the service serves, either by training the default model (with larger
/// settings than startup uses, if asked) or from a saved training pipeline that holds a CRATE classifier, such as the
/// Quickstart's <c>crate-shapes.zip</c> (see <see cref="Help"/>). Relative paths are the caller's: <c>dotnet run
/// --project</c> keeps the working directory it was started in (the .csproj turns the Web SDK's default off).
/// </summary>
public static class ModelCommand
{
    /// <summary>The command's name, the first argument.</summary>
    public const string Name = "make-model";

    private const string Usage = "Usage: make-model --output FILE [--from PIPELINE.zip] [--training-images N] [--epochs N] [--seed N] " +
        "[--maskcut-side PIXELS] [--layer N] [--max-objects N]";

    /// <summary>What <c>make-model --help</c> prints.</summary>
    public const string Help = Usage + """


          --output FILE            the pipeline file to write (relative to the current folder)
          --from PIPELINE.zip      a saved training pipeline holding a CRATE classifier (the Quickstart's
                                   crate-quickstart-output/crate-shapes.zip); without it the default model is trained
          --training-images N      the default model's training images (default 2000)
          --epochs N               the default model's epochs (default 8)
          --seed N                 the default model's seed (default 0)
          --maskcut-side PIXELS    the side MaskCut resizes images to, a multiple of the patch size (default: 96 for
                                   the default model, CutLER's 60 patches otherwise)
          --layer N                the layer (0-based) whose features MaskCut cuts (default: 1 for the default model,
                                   where it separates objects best; the last layer with --from, the paper's choice)
          --max-objects N          MaskCut's n, the most objects per image, with --from (default 3)
          -h, --help               this text
        """;

    /// <summary>Whether <paramref name="argument"/> asks for help: <c>--help</c>, <c>-h</c> or <c>-?</c>.</summary>
    public static bool IsHelp(string argument) => argument is "--help" or "-h" or "-?";

    /// <summary>Runs the command; returns the process exit code (0 done, 2 bad arguments, 1 failed).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Any(IsHelp))
        {
            output.WriteLine(Help);
            return 0;
        }
        string? path = null, from = null;
        int? side = null, maxObjects = null, layer = null;
        var defaults = new DefaultModelOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                int Number() => int.Parse(Next(), CultureInfo.InvariantCulture);
                switch (args[i])
                {
                    case "--output": path = Next(); break;
                    case "--from": from = Next(); break;
                    case "--training-images": defaults.TrainingImages = Number(); break;
                    case "--epochs": defaults.Epochs = Number(); break;
                    case "--seed": defaults.Seed = Number(); break;
                    case "--maskcut-side": side = Number(); break;
                    case "--max-objects": maxObjects = Number(); break;
                    case "--layer": layer = Number(); break;
                    default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
                }
            }
            if (path is null) throw new ArgumentException("--output is required.");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            error.WriteLine($"{e.Message} {Usage} (--help explains them)");
            return 2;
        }

        try
        {
            var context = new MLContext(seed: 0);
            var clock = Stopwatch.StartNew();
            if (from is null)
            {
                if (side is int s) defaults.MaskCutImageSide = s;
                if (layer is int l) defaults.MaskCutLayer = l;
                if (maxObjects is not null) throw new ArgumentException("--max-objects applies with --from; the default model keeps n = 3.");
                output.WriteLine($"Training the default model on {defaults.TrainingImages} images of the embedded shapes dataset, {defaults.Epochs} epochs…");
                double accuracy = DefaultModel.Train(context, defaults, path);
                output.WriteLine($"Held-out accuracy {accuracy:P1}.");
            }
            else
            {
                using var loaded = (IDisposable)CratePipelineFile.Load(context, from, out _);
                var cut = new CrateMaskCutOptions
                {
                    ImageHeight = side, ImageWidth = side, Layer = layer, Cut = new MaskCutOptions { MaxObjects = maxObjects ?? 3 },
                };
                ServingPipeline.Save(context, (ITransformer)loaded, cut, path);
            }
            output.WriteLine($"Wrote {Path.GetFullPath(path)} in {clock.Elapsed.TotalSeconds:F1} s. Serve it with:");
            output.WriteLine($"  dotnet run -c Release --project samples/Crate.SegmentService -- --Segmentation:ModelPath={Path.GetFullPath(path)}");
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException)
        {
            error.WriteLine($"make-model failed: {e.Message}");
            return 1;
        }
    }
}
