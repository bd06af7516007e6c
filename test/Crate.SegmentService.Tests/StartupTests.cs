using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Crate.Testing;
using Crate.Trainers;
using Crate.Trainers.Data;
using Crate.Transforms;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using TorchSharp;

namespace Crate.SegmentService.Tests;

/// <summary>
/// Where the served model comes from: the default trained at startup (and cached), a pipeline made by
/// <c>make-model</c> from a training pipeline, and files the service must refuse before it listens.
/// </summary>
[TestClass]
public sealed class StartupTests
{
    private static readonly string Folder = Path.Combine(Path.GetTempPath(), $"crate-service-startup-{Guid.NewGuid():N}");

    [ClassInitialize]
    public static void MakeFolder(TestContext _) => Directory.CreateDirectory(Folder);

    [ClassCleanup]
    public static void RemoveFolder() => Directory.Delete(Folder, recursive: true);

    [TestMethod]
    public async Task WithoutAModelFileTheDefaultIsTrainedOnceAndCached()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Segmentation:DefaultModel:TrainingImages"] = "64",
            ["Segmentation:DefaultModel:Epochs"] = "1",
            ["Segmentation:DefaultModel:MaskCutImageSide"] = "32",
            ["Segmentation:DefaultModel:CacheDirectory"] = Path.Combine(Folder, "cache"),
        };
        byte[] image = ServedFixtures.Pngs(1, seed: 4)[0];
        string first, second;
        using (var host = new ServiceHost(settings))
        {
            HttpClient client = host.Start();
            JsonElement model = await GetJson(client, "/model");
            StringAssert.StartsWith(model.GetProperty("source").GetString(), "default model trained at startup");
            CollectionAssert.AreEqual(ShapesDataset.ClassNames(new ShapesDatasetOptions()).ToArray(),
                model.GetProperty("classes").EnumerateArray().Select(c => c.GetString()).ToArray());
            first = await Segment(client, image);
            double[] probabilities = JsonDocument.Parse(first).RootElement.GetProperty("probabilities").EnumerateArray()
                .Select(p => (double)p.GetProperty("probability").GetSingle()).ToArray();
            NumericAssert.AreClose(1, probabilities.Sum(), new Tolerance(1e-5), "the probabilities' sum");
        }
        string? cache = DefaultModel.CachePath(new DefaultModelOptions
        {
            TrainingImages = 64, Epochs = 1, MaskCutImageSide = 32, CacheDirectory = Path.Combine(Folder, "cache"),
        });
        Assert.IsTrue(File.Exists(cache), $"The trained model is kept at {cache}.");
        using (var host = new ServiceHost(settings))
        {
            HttpClient client = host.Start();
            StringAssert.Contains((await GetJson(client, "/model")).GetProperty("source").GetString(), $"cached at {cache}");
            second = await Segment(client, image);
        }
        Assert.AreEqual(first, second, "The cached model answers as the freshly trained one did.");
    }

    [TestMethod]
    public void BadModelFilesAndSettingsStopTheServiceBeforeItListens()
    {
        string missing = Path.Combine(Folder, "no-such-model.zip");
        var notFound = StartupError<FileNotFoundException>(new() { ["Segmentation:ModelPath"] = missing });
        StringAssert.Contains(notFound.Message, missing);
        StringAssert.Contains(notFound.Message, "make-model");

        string text = Path.Combine(Folder, "model.zip");
        File.WriteAllText(text, "not a pipeline");
        StringAssert.Contains(StartupError<InvalidDataException>(new() { ["Segmentation:ModelPath"] = text }).Message, "not a zip archive");

        string classifierOnly = Path.Combine(Folder, "classifier-only.zip");
        var context = new MLContext(seed: 0);
        using (CrateModel network = TinyNetwork())
        using (var classifier = new CrateClassifierTransformer(network, Settings()))
            CratePipelineFile.Save(context, classifier, Schema(("Name", TextDataViewType.Instance), ("Image", new ImageDataViewType())), classifierOnly);
        var noMaskCut = StartupError<InvalidDataException>(new() { ["Segmentation:ModelPath"] = classifierOnly });
        StringAssert.Contains(noMaskCut.Message, "no output column 'MaskCutCount'");
        StringAssert.Contains(noMaskCut.Message, classifierOnly);

        StringAssert.Contains(StartupError<InvalidOperationException>(new()
        {
            ["Segmentation:ModelPath"] = classifierOnly, ["Segmentation:MaxConcurrentPredictions"] = "0",
        }).Message, "Segmentation:MaxConcurrentPredictions must be at least 1");
    }

    [TestMethod]
    public void MakeModelTurnsATrainingPipelineIntoAServedOne()
    {
        string training = Path.Combine(Folder, "training.zip"), served = Path.Combine(Folder, "served.zip");
        SaveTrainingPipeline(training);
        var output = new StringWriter();
        Assert.AreEqual(0, ModelCommand.Run(["--from", training, "--output", served, "--maskcut-side", "48", "--max-objects", "2"], output, output), output.ToString());
        using (SegmentationModel model = SegmentationModel.Load(new SegmentationServiceOptions { ModelPath = served }, NullLogger.Instance))
        {
            CollectionAssert.AreEqual(ServedFixtures.Classes, model.ClassNames.ToArray());
            Assert.AreEqual(new ImageSize(48, 48), model.Description.MaskCut?.Input);
            Assert.AreEqual(2, model.Description.MaskCut?.MaxObjects);
        }

        var errors = new StringWriter();
        Assert.AreEqual(2, ModelCommand.Run(["--from", training], TextWriter.Null, errors));
        StringAssert.Contains(errors.ToString(), "--output is required");
        Assert.AreEqual(2, ModelCommand.Run(["--output", served, "--epochs", "many"], TextWriter.Null, errors));
        Assert.AreEqual(1, ModelCommand.Run(["--from", Path.Combine(Folder, "absent.zip"), "--output", served], TextWriter.Null, errors));
        StringAssert.Contains(errors.ToString(), "absent.zip");
    }

    private static T StartupError<T>(Dictionary<string, string?> settings) where T : Exception
    {
        // The app as Program.cs builds it, started on this thread. WebApplicationFactory runs the entry point on a
        // thread of its own and, when startup fails, can race the host's disposal and report an ObjectDisposedException
        // in place of the startup error (seen once in eleven runs on the loaded 2-core machine).
        string[] args = ["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", .. settings.Select(setting => $"--{setting.Key}={setting.Value}")];
        using WebApplication app = SegmentServiceApp.Build(args);
        Exception thrown = Assert.Throws<Exception>(() => app.StartAsync().GetAwaiter().GetResult());
        for (Exception? e = thrown; e is not null; e = e.InnerException)
            if (e is T wanted) return wanted;
        Assert.Fail($"Startup failed with {thrown}, not with a {typeof(T).Name}.");
        return null!;
    }

    /// <summary>A pipeline as the Quickstart saves one: the label mapped to a key, then a tiny classifier of <paramref name="depth"/> layers.</summary>
    internal static void SaveTrainingPipeline(string path, int depth = 1)
    {
        var context = new MLContext(seed: 0);
        IDataView labels = context.Data.LoadFromEnumerable(ServedFixtures.Classes.Select(c => new LabelRow { Label = c }).ToArray());
        using CrateModel network = TinyNetwork(depth);
        using var classifier = new CrateClassifierTransformer(network, Settings());
        var chain = new TransformerChain<ITransformer>(context.Transforms.Conversion.MapValueToKey("Label").Fit(labels), classifier);
        CratePipelineFile.Save(context, chain, Schema(("Label", TextDataViewType.Instance), ("Image", new ImageDataViewType())), path);
    }

    private static CrateModel TinyNetwork(int depth = 1)
    {
        using var generator = new torch.Generator(3);
        return new CrateModel(new CrateArchitecture
        {
            EmbeddingDim = 16, Depth = depth, Heads = 2, HeadDim = 8, PatchSize = 8, ImageHeight = 16, ImageWidth = 16, ClassCount = ServedFixtures.Classes.Length,
        }, generator);
    }

    private static CrateClassifierSettings Settings() => new()
    {
        ImageHeight = 16, ImageWidth = 16, Labels = new LabelKeyValues("Text", ServedFixtures.Classes), Device = ComputeDevice.Cpu,
    };

    private static DataViewSchema Schema(params (string Name, DataViewType Type)[] columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach ((string name, DataViewType type) in columns) builder.AddColumn(name, type);
        return builder.ToSchema();
    }

    private static async Task<JsonElement> GetJson(HttpClient client, string route)
    {
        using HttpResponseMessage response = await client.GetAsync(route);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<string> Segment(HttpClient client, byte[] png)
    {
        using var body = new ByteArrayContent(png);
        body.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using HttpResponseMessage response = await client.PostAsync("/segment", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
        return text;
    }

    public sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }
}
