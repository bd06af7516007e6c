using Spectre.Console;

namespace Crate.Samples.Tests;

/// <summary>A sample's entry point called in this process, its console captured as plain text.</summary>
internal sealed record SampleRun(int ExitCode, string Output)
{
    /// <summary>The scratch folder's fixture copy of the authors'-layout checkpoint crate_square (4 heads, patch 8, 32×32).</summary>
    public static string Checkpoint => Path.Combine(AppContext.BaseDirectory, "Fixtures", "crate_square.pt");

    public static SampleRun Of(Func<string[], IAnsiConsole, int> main, params string[] args)
    {
        var text = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });
        // Wide enough that no line of the samples is wrapped, so the output can be searched.
        console.Profile.Width = 400;
        int exitCode = main(args, console);
        return new SampleRun(exitCode, text.ToString());
    }

    /// <summary>Fails with the sample's output unless it exited with 0.</summary>
    public SampleRun Succeeded()
    {
        Assert.AreEqual(0, ExitCode, Output);
        return this;
    }
}
