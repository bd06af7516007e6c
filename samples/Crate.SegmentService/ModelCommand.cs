using System.Diagnostics;
using System.Globalization;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.ML;

namespace Crate.SegmentService;

/// <summary>
/// <c>make-model</c>: writes a pipeline file the service serves, either by training the default model (with larger
/// settings than startup uses, if asked) or from a saved training pipeline that holds a CRATE classifier, such as the
/// Quickstart's <c>crate-shapes.zip</c>:
/// <code>
/// make-model --output model.zip [--training-images N] [--epochs N] [--seed N] [--maskcut-side PIXELS] [--max-objects N]
/// make-model --output model.zip --from crate-quickstart-output/crate-shapes.zip [--maskcut-side PIXELS] [--max-objects N]
/// </code>
/// <c>--maskcut-side</c> is the side MaskCut resizes images to (default: 64 for the default model, CutLER's 60 patches
/// otherwise); <c>--max-objects</c> is MaskCut's n (default 3).
/// </summary>
public static class ModelCommand
{
    /// <summary>The command's name, the first argument.</summary>
    public const string Name = "make-model";

    private const string Usage = "Usage: make-model --output FILE [--from PIPELINE.zip] [--training-images N] [--epochs N] [--seed N] " +
        "[--maskcut-side PIXELS] [--max-objects N]";

    /// <summary>Runs the command; returns the process exit code (0 done, 2 bad arguments, 1 failed).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string? path = null, from = null;
        int? side = null, maxObjects = null;
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
                    default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
                }
            }
            if (path is null) throw new ArgumentException("--output is required.");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            error.WriteLine($"{e.Message} {Usage}");
            return 2;
        }

        try
        {
            var context = new MLContext(seed: 0);
            var clock = Stopwatch.StartNew();
            if (from is null)
            {
                if (side is int s) defaults.MaskCutImageSide = s;
                if (maxObjects is not null) throw new ArgumentException("--max-objects applies with --from; the default model keeps n = 3.");
                output.WriteLine($"Training the default model on {defaults.TrainingImages} images of the embedded shapes dataset, {defaults.Epochs} epochs…");
                double accuracy = DefaultModel.Train(context, defaults, path);
                output.WriteLine($"Held-out accuracy {accuracy:P1}.");
            }
            else
            {
                using var loaded = (IDisposable)CratePipelineFile.Load(context, from, out _);
                var cut = new CrateMaskCutOptions { ImageHeight = side, ImageWidth = side, Cut = new MaskCutOptions { MaxObjects = maxObjects ?? 3 } };
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
