using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Crate.Samples.SegmentImages;

namespace Crate.Samples.Tests;

/// <summary>
/// The cluster side of docs/scaling.md: the Kubernetes manifests read by kubectl's own decoder (offline, no cluster)
/// and their wiring checked against what the commands need (the completion index reaches --shard-index, completions
/// equal --shard-count, the merge reads the folders the shards write, the probes hit /health, the model is mounted
/// read-only); and the docs' commands run as written, in this process, from the repository root.
/// </summary>
[TestClass]
public sealed class ClusterManifestTests
{
    private static readonly string Root = typeof(ClusterManifestTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    private static readonly string Manifests = Path.Combine(Root, "samples", "cluster", "kubernetes");

    /// <summary>The objects of a manifest file as kubectl decodes them (kubectl label --local prints them as JSON, contacting nothing).</summary>
    private static List<JsonElement> Decode(string file)
    {
        string kubectl = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(folder => Path.Combine(folder, "kubectl")).FirstOrDefault(File.Exists)
            ?? throw new AssertInconclusiveException("kubectl is not on PATH: the manifests cannot be decoded here.");
        var start = new ProcessStartInfo(kubectl) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])["label", "--local", "-f", Path.Combine(Manifests, file), "-o", "json", "checked=offline"])
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        byte[] json = System.Text.Encoding.UTF8.GetBytes(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, $"kubectl on {file}: {error.Result}");
        var objects = new List<JsonElement>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowMultipleValues = true });
        while (reader.Read()) objects.Add(JsonElement.ParseValue(ref reader));
        return objects;
    }

    private static JsonElement Container(JsonElement workload) => workload.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];

    private static string[] Args(JsonElement container) => container.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray();

    private static string Option(string[] args, string name) => args.Single(a => a.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];

    [TestMethod]
    public void TheIndexedJobPassesItsCompletionIndexAsTheShardAndTheMergeReadsEveryShard()
    {
        JsonElement job = Decode("segment-coco-job.yaml").Single();
        Assert.AreEqual("Job", job.GetProperty("kind").GetString());
        JsonElement spec = job.GetProperty("spec");
        Assert.AreEqual("Indexed", spec.GetProperty("completionMode").GetString());
        JsonElement container = Container(job);
        string[] args = Args(container);
        int shards = int.Parse(Option(args, "--shard-count"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.AreEqual(shards, spec.GetProperty("completions").GetInt32(), "one completion index per shard");
        Assert.AreEqual("$(SHARD_INDEX)", Option(args, "--shard-index"));
        JsonElement index = container.GetProperty("env").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "SHARD_INDEX");
        Assert.AreEqual("metadata.annotations['batch.kubernetes.io/job-completion-index']",
            index.GetProperty("valueFrom").GetProperty("fieldRef").GetProperty("fieldPath").GetString());
        string output = Option(args, "--output");
        StringAssert.EndsWith(output, "$(SHARD_INDEX)", "each shard its own folder");
        foreach (string path in new[] { Option(args, "--images"), Option(args, "--image-ids"), Option(args, "--model") })
            Assert.IsTrue(Mounts(job).Any(m => path.StartsWith(m.Path + "/", StringComparison.Ordinal) && m.ReadOnly), $"{path} on a read-only mount");
        Assert.IsTrue(Mounts(job).Any(m => output.StartsWith(m.Path + "/", StringComparison.Ordinal) && !m.ReadOnly), $"{output} on a writable mount");

        JsonElement merge = Decode("merge-coco-job.yaml").Single();
        string script = string.Join(" ", Args(Container(merge)));
        StringAssert.Contains(script, $"merge {output.Replace("$(SHARD_INDEX)", "*", StringComparison.Ordinal)} ", "the merge globs the shards' folders");
        StringAssert.Contains(script, $"--truth {Option(args, "--image-ids")}");
        Assert.AreEqual(Container(job).GetProperty("image").GetString(), Container(merge).GetProperty("image").GetString(), "the same code merges");
    }

    private static IEnumerable<(string Path, bool ReadOnly)> Mounts(JsonElement workload) =>
        Container(workload).GetProperty("volumeMounts").EnumerateArray().Select(m =>
            (m.GetProperty("mountPath").GetString()!, m.TryGetProperty("readOnly", out JsonElement r) && r.GetBoolean()));

    [TestMethod]
    public void TheServiceIsProbedOnHealthReadsItsModelReadOnlyAndScalesOnCpu()
    {
        List<JsonElement> objects = Decode("segment-service.yaml");
        JsonElement deployment = objects.Single(o => o.GetProperty("kind").GetString() == "Deployment");
        JsonElement container = Container(deployment);
        string port = container.GetProperty("ports")[0].GetProperty("name").GetString()!;
        foreach (string probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            JsonElement get = container.GetProperty(probe).GetProperty("httpGet");
            Assert.AreEqual("/health", get.GetProperty("path").GetString(), probe);
            Assert.AreEqual(port, get.GetProperty("port").GetString(), probe);
        }
        var env = container.GetProperty("env").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()!);
        string model = env["Segmentation__ModelPath"];
        Assert.IsTrue(Mounts(deployment).Any(m => model.StartsWith(m.Path + "/", StringComparison.Ordinal) && m.ReadOnly), $"{model} on a read-only mount");
        // The sizing rule of docs/scaling.md: one engine per requested CPU, one libtorch thread each.
        Assert.AreEqual(container.GetProperty("resources").GetProperty("requests").GetProperty("cpu").GetString(), env["Segmentation__MaxConcurrentPredictions"]);
        Assert.AreEqual("1", env["OMP_NUM_THREADS"]);

        JsonElement service = objects.Single(o => o.GetProperty("kind").GetString() == "Service");
        Assert.AreEqual(port, service.GetProperty("spec").GetProperty("ports")[0].GetProperty("targetPort").GetString());
        JsonElement autoscaler = objects.Single(o => o.GetProperty("kind").GetString() == "HorizontalPodAutoscaler").GetProperty("spec");
        Assert.AreEqual(deployment.GetProperty("metadata").GetProperty("name").GetString(), autoscaler.GetProperty("scaleTargetRef").GetProperty("name").GetString());
        Assert.AreEqual("cpu", autoscaler.GetProperty("metrics")[0].GetProperty("resource").GetProperty("name").GetString());
    }

    /// <summary>
    /// Every `dotnet run … samples/Crate.SegmentImages --` line of docs/scaling.md's ```sh blocks, in order, with its
    /// arguments as written: relative paths are the repository's, /tmp/crate-scaling/ is this test's scratch folder.
    /// </summary>
    [TestMethod]
    public void TheScalingDocsCommandsRunAsWritten()
    {
        const string Prefix = "dotnet run -c Release --project samples/Crate.SegmentImages -- ";
        string[] commands = Regex.Matches(File.ReadAllText(Path.Combine(Root, "docs", "scaling.md")), "```sh\n(.*?)```", RegexOptions.Singleline)
            .SelectMany(block => block.Groups[1].Value.Split('\n')).Where(line => line.StartsWith(Prefix, StringComparison.Ordinal)).ToArray();
        Assert.IsGreaterThanOrEqualTo(5, commands.Length, "the docs show a single run, the shards, a resume and the merge");
        string scratch = Directory.CreateTempSubdirectory("crate-scaling-docs-").FullName;
        try
        {
            var exits = new List<int>();
            foreach (string command in commands)
            {
                string[] args = command[Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a =>
                    a.StartsWith("/tmp/crate-scaling/", StringComparison.Ordinal) ? Path.Combine(scratch, a["/tmp/crate-scaling/".Length..])
                    : a.Contains('/', StringComparison.Ordinal) && !a.StartsWith('/') ? Path.Combine(Root, a) : a).ToArray();
                SampleRun run = SampleRun.Of(SegmentImagesApp.Run, args);
                Assert.IsTrue(run.ExitCode is 0 or SegmentImagesApp.StoppedEarly, $"{command}\n{run.Output}");
                exits.Add(run.ExitCode);
            }
            Assert.Contains(SegmentImagesApp.StoppedEarly, exits, "the docs show a shard stopped and resumed");
            foreach (string file in new[] { ShardJournal.ResultsFile, ShardJournal.ImagesFile })
                CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(scratch, "single", file)), File.ReadAllBytes(Path.Combine(scratch, "merged", file)), file);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
