using System.Diagnostics;

namespace Crate.Testing;

/// <summary>Runs a program the way a user would from a shell, and fails the test with its output when it fails.</summary>
internal static class ExternalProcess
{
    /// <summary>
    /// Runs <paramref name="program"/> in <paramref name="directory"/> and returns its standard output; fails the test
    /// when it exits with another code than 0 or runs past <paramref name="timeout"/> (then it is killed with its children).
    /// </summary>
    public static string Run(string program, IReadOnlyList<string> arguments, string directory, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        Result result = RunToExit(program, arguments, directory, timeout, environment);
        Assert.AreEqual(0, result.ExitCode, result.Describe());
        return result.Output;
    }

    /// <summary>Runs <paramref name="program"/> to its exit, whatever its exit code; fails the test only when it runs past <paramref name="timeout"/>.</summary>
    public static Result RunToExit(string program, IReadOnlyList<string> arguments, string directory, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        // English messages whatever the machine's language, and no first-run banner in the output.
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', arguments)} ran past {timeout}:\n{output.Result}\n{error.Result}");
        }
        process.WaitForExit(); // the redirected streams are complete only now
        return new Result($"{program} {string.Join(' ', arguments)}", process.ExitCode, output.Result, error.Result);
    }

    /// <summary>How a program ended.</summary>
    public sealed record Result(string CommandLine, int ExitCode, string Output, string Error)
    {
        /// <summary>The command, its exit code and everything it printed, for a failure message.</summary>
        public string Describe() => $"{CommandLine} exited with {ExitCode}:\n{Output}\n{Error}";
    }
}
