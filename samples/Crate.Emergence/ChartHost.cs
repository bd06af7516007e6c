using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using Crate.Emergence.Charts;

namespace Crate.Emergence;

/// <summary>
/// Draws <see cref="ChartRequest"/>s with Crate.Emergence.Charts (ScottPlot), loaded from the charts/ folder beside
/// this program into a load context of its own: ScottPlot needs SkiaSharp 3, ML.NET's MLImage SkiaSharp 2.88, and the
/// two cannot share the default context. Managed assemblies and native libraries (libSkiaSharp, libHarfBuzzSharp) of
/// that folder are resolved from its deps.json, so each side finds its own SkiaSharp; requests cross as JSON strings.
/// </summary>
public static class ChartHost
{
    private const string AssemblyName = "Crate.Emergence.Charts";
    private static readonly Lazy<Func<string, string>> Renderer = new(Load);

    /// <summary>Draws <paramref name="request"/> and returns the PNG's path.</summary>
    public static string Draw(ChartRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Renderer.Value(JsonSerializer.Serialize(request));
    }

    private static Func<string, string> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "charts", AssemblyName + ".dll");
        if (!File.Exists(path))
            throw new FileNotFoundException($"The chart library is missing at '{path}'; it is copied there by the build (ChartHost.targets).", path);
        var charts = new ChartsLoadContext(path);
        Assembly assembly = charts.LoadFromAssemblyPath(path);
        MethodInfo render = assembly.GetType("Crate.Emergence.Charts.ChartRenderer", throwOnError: true)!.GetMethod("Render")!;
        return render.CreateDelegate<Func<string, string>>();
    }

    private sealed class ChartsLoadContext(string mainAssembly) : AssemblyLoadContext("Crate.Emergence.Charts")
    {
        private readonly AssemblyDependencyResolver resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName) =>
            resolver.ResolveAssemblyToPath(assemblyName) is string path ? LoadFromAssemblyPath(path) : null;

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is string path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
