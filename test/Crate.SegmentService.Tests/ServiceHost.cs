using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Crate.SegmentService.Tests;

/// <summary>
/// The service in this process on Kestrel at 127.0.0.1 (a port the system picks), configured by
/// <paramref name="settings"/> (configuration keys such as "Segmentation:ModelPath"). Every request of the tests goes
/// over the loopback to it; nothing else is contacted.
/// </summary>
internal sealed class ServiceHost : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string?> settings;

    public ServiceHost(IReadOnlyDictionary<string, string?> settings)
    {
        this.settings = settings;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>Every entry the service logged at level Error or above (an unhandled exception is one), as "category: message".</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Starts the server (loading the model) and returns a client of it.</summary>
    public HttpClient Start()
    {
        StartServer();
        HttpClient client = CreateClient();
        // The client must talk to the real server over the loopback, not to an in-memory test server.
        Assert.IsNotNull(client.BaseAddress);
        Assert.IsTrue(IPAddress.IsLoopback(IPAddress.Parse(client.BaseAddress.Host)), $"The service listens at {client.BaseAddress}.");
        client.Timeout = TimeSpan.FromMinutes(2);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach ((string key, string? value) in settings) builder.UseSetting(key, value);
        builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(new ErrorCollector(Errors)));
    }
}

/// <summary>Collects the entries logged at level Error or above.</summary>
internal sealed class ErrorCollector(ConcurrentQueue<string> errors) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Collector(categoryName, errors);

    public void Dispose()
    {
    }

    private sealed class Collector(string category, ConcurrentQueue<string> errors) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) errors.Enqueue($"{category}: {formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message}");
        }
    }
}
