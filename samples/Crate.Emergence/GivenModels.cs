using Crate.Trainers;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.ML;

namespace Crate.Emergence;

/// <summary>Networks given on the command line, loaded by their kind: our model files, saved pipelines, the authors' checkpoints.</summary>
public static class GivenModels
{
    /// <summary>
    /// The network in <paramref name="path"/>, named by its file name: a .safetensors model file (<see cref="CrateModelFile"/>),
    /// a .zip pipeline (<see cref="CratePipelineFile"/>, holding one CRATE classifier), or a .pth/.pt checkpoint of the
    /// reference code (imported with <paramref name="checkpointHeads"/> heads; required there, since shapes do not fix K).
    /// </summary>
    public static (string Name, CrateModel Network) Load(string path, int? checkpointHeads)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No model at '{path}'.", path);
        string name = Path.GetFileNameWithoutExtension(path);
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".safetensors":
                return (name, CrateModelFile.Load(path));
            case ".zip":
                {
                    // The pipeline owns its network; keep a copy of our own and let the pipeline go.
                    ITransformer pipeline = CratePipelineFile.Load(new MLContext(), path, out _);
                    try
                    {
                        CrateClassifierTransformer classifier = ((IEnumerable<ITransformer>)pipeline).OfType<CrateClassifierTransformer>().SingleOrDefault()
                            ?? throw new InvalidDataException($"'{path}' holds no CRATE classifier.");
                        string copy = Path.Combine(Path.GetTempPath(), $"crate-emergence-{Guid.NewGuid():N}.safetensors");
                        try
                        {
                            CrateModelFile.Save(classifier.Model, copy);
                            return (name, CrateModelFile.Load(copy));
                        }
                        finally
                        {
                            File.Delete(copy);
                        }
                    }
                    finally
                    {
                        (pipeline as IDisposable)?.Dispose();
                    }
                }
            case ".pth" or ".pt":
                if (checkpointHeads is not int heads)
                    throw new ArgumentException($"'{path}' is an authors' checkpoint: give its number of heads with --checkpoint-heads.");
                return (name, CrateCheckpointImporter.Import(path, new CheckpointImportOptions { Heads = heads }));
            default:
                throw new ArgumentException($"'{path}': expected a .safetensors model file, a .zip pipeline or a .pth/.pt checkpoint.");
        }
    }
}
