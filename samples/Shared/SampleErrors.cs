using Spectre.Console;

namespace Crate.Samples;

/// <summary>How the samples end on a failure: the library's message (it names the file, record or option at fault)
/// instead of a stack trace, and exit code 1.</summary>
internal static class SampleErrors
{
    /// <summary>Runs <paramref name="run"/>; an exception is reported on <paramref name="console"/> and gives exit code 1.</summary>
    public static int Report(IAnsiConsole console, Func<int> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
        {
            console.MarkupLineInterpolated($"[red]Error:[/] {e.Message}");
            for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
                console.MarkupLineInterpolated($"[red]  because:[/] {inner.Message}");
            return 1;
        }
    }
}
