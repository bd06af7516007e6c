using System.Text.Json.Nodes;
using System.Xml.Linq;
using Crate.Build;
using Crate.Testing;
using Crate.Transforms.Tests.Build;

namespace Crate.Transforms.Tests.Notebooks;

/// <summary>
/// Each notebook of samples/notebooks runs headless, as a user runs it, against the libraries of this checkout: the
/// packages are packed into a local feed (<see cref="LocalPackageFeed"/>), the notebook's own package lines are
/// pointed at that feed and version, and dotnet-repl (pinned in .config/dotnet-tools.json) runs every cell in a
/// fresh .NET Interactive kernel. A cell that throws or fails to compile fails the test, with the cell's error.
/// </summary>
/// <remarks>
/// The notebooks reference the packages as users will (<c>#r "nuget: Crate.Trainers, 0.1.0"</c>, with <c>#i</c> naming
/// the folder <c>dotnet pack</c> fills until the packages are on nuget.org); only those two lines are rewritten here,
/// and the test fails when they are missing or name another version than Directory.Build.props, so the notebooks
/// cannot drift from what a user runs. The kernel loads TorchSharp from the package folder, where
/// CrateNativeRuntime.EnsureLoadable must make the native library loadable (on Debian 12 it is not as shipped).
/// <para>The notebooks are committed with the outputs dotnet-repl wrote, so that a repository browser shows their
/// pictures. Each run holds the committed outputs to the fresh ones' structure: the same cells (the fresh run's
/// sources are the committed ones), and in each code cell the same kinds of output in the same order
/// (<see cref="OutputKinds"/>); values, timings and pictures may differ. To write fresh outputs into
/// samples/notebooks, run the test with the environment variable <c>CRATE_NOTEBOOK_OUTPUTS=write</c>: the executed
/// notebook is written back with its package lines as users see them, and the test feed's and temporary folders'
/// paths replaced by the ones a user's run shows.</para>
/// </remarks>
[TestClass]
public sealed class NotebookTests
{
    private const string FeedLine = "#i \"nuget: ../../artifacts/packages\"";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(8);
    private static readonly Lazy<bool> ToolRestored = new(() =>
    {
        ExternalProcess.Run("dotnet", ["tool", "restore"], LocalPackageFeed.RepositoryRoot, TimeSpan.FromMinutes(3));
        return true;
    });

    [TestMethod]
    [TestCategory("Slow")]
    [Timeout(900_000, CooperativeCancellation = true)]
    [DataRow("01-train-and-look-at-attention.ipynb", 20)]
    [DataRow("02-segment-and-evaluate.ipynb", 12)]
    [DataRow("03-import-authors-checkpoint.ipynb", 3)]
    public void NotebookRunsHeadlessAgainstThisCheckout(string notebook, int pictures)
    {
        LocalPackageFeed feed = LocalPackageFeed.Shared;
        string folder = Path.Combine(LocalPackageFeed.RepositoryRoot, "samples", "notebooks");
        string work = Directory.CreateTempSubdirectory("crate-notebook-").FullName;
        try
        {
            string input = Path.Combine(work, notebook), output = Path.Combine(work, "executed-" + notebook);
            File.WriteAllText(input, PointAtFeed(File.ReadAllText(Path.Combine(folder, notebook)), feed, notebook));
            _ = ToolRestored.Value;
            var environment = new Dictionary<string, string>(feed.NuGetEnvironment)
            {
                ["XDG_CACHE_HOME"] = Path.Combine(work, "cache"), // CrateNativeRuntime's patched copy: made afresh, deleted after
            };
            // From the notebook's folder, as an editor runs it: its relative paths (fixtures) resolve from there.
            ExternalProcess.Result run = ExternalProcess.RunToExit("dotnet",
                ["tool", "run", "dotnet-repl", "--", "--run", input, "--exit-after-run", "--output-path", output], folder, RunTimeout, environment);
            Assert.IsTrue(File.Exists(output), $"dotnet-repl wrote no executed notebook. {run.Describe()}");
            JsonArray cells = Cells(JsonNode.Parse(File.ReadAllText(output))!);

            string[] errors = cells.Where(c => (string?)c!["cell_type"] == "code")
                .SelectMany(c => c!["outputs"]!.AsArray().Where(o => (string?)o!["output_type"] == "error")
                    .Select(o => $"cell «{Source(c).Split('\n')[0]}»: {o!["evalue"]}"))
                .ToArray();
            Assert.IsEmpty(errors, string.Join("\n", errors));
            Assert.AreEqual(0, run.ExitCode, run.Describe()); // dotnet-repl exits with 2 when a cell failed
            string committedPath = Path.Combine(folder, notebook);
            if (Environment.GetEnvironmentVariable("CRATE_NOTEBOOK_OUTPUTS") == "write")
                File.WriteAllText(committedPath, AsCommitted(File.ReadAllText(output), File.ReadAllText(committedPath), feed, work));
            JsonArray committed = Cells(JsonNode.Parse(File.ReadAllText(committedPath))!);
            Assert.HasCount(cells.Count, committed, $"{notebook}: the committed notebook's cells");
            for (int i = 0; i < cells.Count; i++)
            {
                string where = $"{notebook}, cell {i} «{Source(committed[i]!).Split('\n')[0]}»";
                Assert.AreEqual((string?)cells[i]!["cell_type"], (string?)committed[i]!["cell_type"], where);
                CollectionAssert.AreEqual(OutputKinds(cells[i]!), OutputKinds(committed[i]!),
                    $"{where}: the committed outputs are [{string.Join(", ", OutputKinds(committed[i]!))}], a fresh run's [{string.Join(", ", OutputKinds(cells[i]!))}]; " +
                    "rerun with CRATE_NOTEBOOK_OUTPUTS=write and commit the notebook");
            }
            string outputs = string.Concat(cells.Select(c => c!["outputs"]?.ToJsonString() ?? ""));
            Assert.IsGreaterThanOrEqualTo(pictures, Pictures(cells), "pictures shown inline");
            Assert.IsGreaterThanOrEqualTo(pictures, Pictures(committed), "pictures in the committed notebook");

            // The kernel loaded TorchSharp from the package folder: where the system libstdc++ lacks GLIBCXX_3.4.32 the
            // notebook's first cell had to load the patched copy, and nothing else could have made TorchSharp work.
            string? system = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
            if (system is null || !GlibcxxWeakVersionPatch.LibraryDefinesVersion(system))
                StringAssert.Contains(outputs, "LoadedPatchedCopy");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The kinds of a cell's outputs, in order: "stream:stdout", "display_data:text/html", "error", … Consecutive
    /// outputs of one kind count once: how many there are depends on timing, not on the notebook (a kernel splits
    /// printed text into outputs as it flushes, and dotnet-repl records each frame of a package restore's progress
    /// display); how many pictures there are is checked apart.
    /// </summary>
    internal static string[] OutputKinds(JsonNode cell)
    {
        var kinds = new List<string>();
        foreach (JsonNode? output in cell["outputs"]?.AsArray() ?? [])
        {
            string type = (string?)output!["output_type"] ?? "";
            string kind = type switch
            {
                "stream" => $"stream:{(string?)output["name"]}",
                "display_data" or "execute_result" => $"{type}:{string.Join('+', output["data"]!.AsObject().Select(d => d.Key).Order(StringComparer.Ordinal))}",
                _ => type,
            };
            if (kinds.Count == 0 || kinds[^1] != kind) kinds.Add(kind);
        }
        return [.. kinds];
    }

    /// <summary>
    /// The executed notebook <paramref name="executed"/> as it is committed: every cell's source as in
    /// <paramref name="original"/> (the package lines as users see them), and in the outputs the test feed's version,
    /// folder and package folder and the run's temporary folder replaced by what a user's run shows.
    /// </summary>
    private static string AsCommitted(string executed, string original, LocalPackageFeed feed, string work)
    {
        string version = UserVersion();
        string text = executed
            .Replace(Path.Combine(work, "cache"), "~/.cache", StringComparison.Ordinal)
            .Replace(feed.FeedDirectory, "../../artifacts/packages", StringComparison.Ordinal)
            .Replace(feed.PackagesDirectory, LocalPackageFeed.MachinePackagesDirectory.TrimEnd('/'), StringComparison.Ordinal)
            .Replace(feed.Version, version, StringComparison.Ordinal);
        JsonNode document = JsonNode.Parse(text)!;
        JsonArray cells = Cells(document), sources = Cells(JsonNode.Parse(original)!);
        Assert.HasCount(sources.Count, cells, "the executed notebook's cells");
        for (int i = 0; i < cells.Count; i++)
            cells[i]!["source"] = sources[i]!["source"]!.DeepClone();
        // Jupyter's own layout: one-space indents, characters unescaped, a final newline.
        return document.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true, IndentSize = 1, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n";
    }

    private static int Pictures(JsonArray cells) =>
        string.Concat(cells.Select(c => c!["outputs"]?.ToJsonString() ?? "")).Split("data:image/png;base64,").Length - 1;

    private static string UserVersion() =>
        XDocument.Load(Path.Combine(LocalPackageFeed.RepositoryRoot, "Directory.Build.props")).Descendants("Version").Single().Value;

    /// <summary>The notebook with its package lines pointed at the test feed and version; fails when they are not as users see them.</summary>
    private static string PointAtFeed(string json, LocalPackageFeed feed, string notebook)
    {
        string version = UserVersion();
        string torchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3);
        JsonNode document = JsonNode.Parse(json)!;
        JsonNode packages = Cells(document).SingleOrDefault(c => Source(c!).Contains(FeedLine, StringComparison.Ordinal))
            ?? throw new AssertFailedException($"{notebook}: no cell holds {FeedLine}.");
        string source = Source(packages);
        StringAssert.Contains(source, $"#r \"nuget: TorchSharp-cpu, {torchSharp}\"", $"{notebook}: the TorchSharp backend of this checkout");
        string[] crate = ["Crate.Trainers", "Crate.Transforms"];
        string? referenced = crate.FirstOrDefault(id => source.Contains($"#r \"nuget: {id}, {version}\"", StringComparison.Ordinal));
        Assert.IsNotNull(referenced, $"{notebook}: no #r of Crate.Trainers or Crate.Transforms {version} (Directory.Build.props' version)");
        packages["source"] = new JsonArray(source
            .Replace(FeedLine, $"#i \"nuget: {feed.FeedDirectory}\"", StringComparison.Ordinal)
            .Replace($"#r \"nuget: {referenced}, {version}\"", $"#r \"nuget: {referenced}, {feed.Version}\"", StringComparison.Ordinal));
        return document.ToJsonString();
    }

    private static JsonArray Cells(JsonNode notebook) => notebook["cells"]!.AsArray();

    private static string Source(JsonNode cell) => cell["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        JsonNode text => (string?)text ?? "",
        null => "",
    };
}
