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
    /// <summary>The service built from <paramref name="args"/> (ASP.NET Core's command-line configuration:
    /// <c>--urls</c>, <c>--Segmentation:ModelPath=…</c>); <paramref name="configure"/> may change the builder first.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
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
