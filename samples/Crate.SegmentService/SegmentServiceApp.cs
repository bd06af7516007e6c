using System.Text.Encodings.Web;
using Microsoft.Extensions.Options;

namespace Crate.SegmentService;

/// <summary>
/// Builds the service: options from the "Segmentation" configuration section, the model loaded once at startup,
/// a pool of PredictionEngines over it in dependency injection, ProblemDetails for errors, and the routes of
/// <see cref="SegmentEndpoints"/>. Program.cs runs it; tests and benchmarks build it in their own process.
/// </summary>
public static class SegmentServiceApp
{
    private const string Help = """
        Crate.SegmentService: POST an image, get CRATE's segmentation of it (docs/serving.md).

        Usage: Crate.SegmentService [--urls URL[;URL…]] [--Segmentation:SETTING=VALUE …]
               Crate.SegmentService make-model --help      (write a model file to serve)

          --urls URLS                           where to listen (default http://localhost:5000)
          --Segmentation:ModelPath=FILE          the pipeline file to serve (relative to the current folder); empty:
                                                train the default model at startup, or load it from its cache
          --Segmentation:MaxConcurrentPredictions=N, :MaxUploadBytes=N, :MaxImagePixels=N, :ImageColumnName=NAME,
          --Segmentation:ScoreColumnName=NAME, :DefaultModel:TrainingImages=N, :DefaultModel:Epochs=N,
          --Segmentation:DefaultModel:Seed=N, :DefaultModel:MaskCutImageSide=N, :DefaultModel:MaskCutLayer=N,
          --Segmentation:DefaultModel:CacheDirectory=DIR
                                                the other settings (also from appsettings.json beside the program
                                                or environment variables such as Segmentation__ModelPath)
          -h, --help                            this text
        """;

    /// <summary>
    /// What Program.cs runs: <c>make-model …</c> (<see cref="ModelCommand"/>), this help for <c>--help</c> (given anywhere:
    /// nothing is served then), or the service until it is stopped.
    /// </summary>
    /// <returns>The process exit code.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        if (args.Length > 0 && args[0] == ModelCommand.Name)
            return ModelCommand.Run(args[1..], output, error);
        if (args.Any(ModelCommand.IsHelp))
        {
            output.Write(Help);
            return 0;
        }
        using WebApplication app = Build(args);
        app.Run();
        return 0;
    }

    /// <summary>The service built from <paramref name="args"/> (ASP.NET Core's command-line configuration:
    /// <c>--urls</c>, <c>--Segmentation:ModelPath=…</c>); <paramref name="configure"/> may change the builder first.
    /// The content root, where appsettings.json is read, is the program's folder, whatever the working directory.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSegmentationService(builder.Configuration);
        configure?.Invoke(builder);
        WebApplication app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapSegmentEndpoints();
        return app;
    }

    /// <summary>
    /// Registers the service's parts: <see cref="SegmentationServiceOptions"/> bound to the "Segmentation" section,
    /// the <see cref="SegmentationModel"/> singleton (loaded, or trained, by a hosted service before the server takes
    /// requests), the <see cref="PredictionEnginePool{TInput,TOutput}"/> over it, the <see cref="DecodedPixelBudget"/>,
    /// ProblemDetails, health checks, and JSON
    /// that writes COCO's RLE strings without \u escapes.
    /// </summary>
    public static IServiceCollection AddSegmentationService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SegmentationServiceOptions>().Bind(configuration.GetSection(SegmentationServiceOptions.Section));
        services.AddSingleton(provider => SegmentationModel.Load(provider.GetRequiredService<IOptions<SegmentationServiceOptions>>().Value,
            provider.GetRequiredService<ILogger<SegmentationModel>>()));
        // Made after the model, so the container disposes it first.
        services.AddSingleton(provider => provider.GetRequiredService<SegmentationModel>()
            .CreateEnginePool(provider.GetRequiredService<IOptions<SegmentationServiceOptions>>().Value.MaxConcurrentPredictions));
        services.AddSingleton(provider => new DecodedPixelBudget(
            provider.GetRequiredService<IOptions<SegmentationServiceOptions>>().Value.MaxDecodedPixelsInFlight));
        services.AddHostedService<ModelWarmup>();
        services.AddProblemDetails();
        services.AddHealthChecks();
        // The compressed RLE alphabet holds '<', '>' and '`', which the default encoder writes as \u003C…; COCO's files do not.
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        return services;
    }

    /// <summary>Loads the model and makes the engine pool at startup, so a bad model file stops the service before it
    /// listens and the first request does not pay for loading (or training).</summary>
    private sealed class ModelWarmup(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            services.GetRequiredService<PredictionEnginePool<ImageInput, SegmentationRow>>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
