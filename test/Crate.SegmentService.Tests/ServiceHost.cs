using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

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
    }
}
