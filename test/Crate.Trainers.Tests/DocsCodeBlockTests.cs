using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Crate.Trainers.Tests;

/// <summary>
/// Every ```csharp block of README.md and docs/*.md compiles against the libraries of this checkout, so the docs cannot
/// rot. The convention (docs/testing.md, "Code in the docs"): each block is a program of its own (top-level statements,
/// types after them) with the SDK's implicit usings and <see cref="DocumentedNamespaces"/>; a block that continues an
/// earlier one states what it takes as given in an HTML comment right above it, which renders as nothing:
/// <c>&lt;!-- snippet-prelude MLContext mlContext = new(); --&gt;</c>. Code that is not meant to compile goes in a
/// ```text or ```sh block.
/// </summary>
[TestClass]
public sealed class DocsCodeBlockTests
{
    /// <summary>The namespaces every block may use without a using directive of its own (besides the SDK's implicit ones).</summary>
    public static readonly string[] DocumentedNamespaces =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Threading", "System.Threading.Tasks",
        "Microsoft.ML", "Microsoft.ML.Data",
        "Crate.Transforms", "Crate.Transforms.Checkpoints", "Crate.Transforms.Datasets", "Crate.Transforms.Evaluation",
        "Crate.Transforms.MLNet", "Crate.Transforms.Network", "Crate.Transforms.Onnx", "Crate.Transforms.Segmentation",
        "Crate.Transforms.Visualization", "Crate.Trainers", "Crate.Trainers.Data",
    ];

    // Usings a block repeats from the implicit set (CS0105, CS8933), and variables a fragment declares for the reader
    // without using them (CS0168, CS0219), are not defects of the docs; every other warning is.
    private static readonly string[] ToleratedWarnings = ["CS0105", "CS8933", "CS0168", "CS0219", "CS8019"];

    private static readonly Regex Prelude = new(@"<!--\s*snippet-prelude\s*(?<code>.*?)-->\s*$", RegexOptions.Singleline);

    [TestMethod]
    public void EveryCSharpBlockOfTheReadmeAndDocsCompiles()
    {
        string root = typeof(DocsCodeBlockTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        string[] files = [Path.Combine(root, "README.md"), .. Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order()];
        List<Snippet> snippets = files.SelectMany(f => Extract(f, Path.GetRelativePath(root, f))).ToList();
        Assert.IsGreaterThanOrEqualTo(20, snippets.Count, "C# blocks found (the README and the docs hold at least this many)");

        MetadataReference[] references = References();
        var failures = new List<string>();
        foreach (Snippet snippet in snippets)
        {
            string[] problems = Compile(snippet, references);
            if (problems.Length > 0)
                failures.Add($"{snippet.Location}:\n  " + string.Join("\n  ", problems));
        }
        Assert.IsEmpty(failures, $"{failures.Count} of {snippets.Count} blocks do not compile:\n" + string.Join("\n", failures));
    }

    [TestMethod]
    public void ABlockThatDoesNotCompileIsReported()
    {
        // The check itself can fail: a misspelt API, and a block that uses a variable no prelude declares.
        string file = Path.Combine(Path.GetTempPath(), $"crate-docs-{Guid.NewGuid():N}.md");
        try
        {
            File.WriteAllText(file, """
                ```csharp
                var pipeline = new MLContext().Transforms.CrateSegmnt("Mask", "Image", "model.safetensors");
                ```

                ```csharp
                Console.WriteLine(model);
                ```

                <!-- snippet-prelude
                using Microsoft.ML.Transforms;
                ITransformer model = Row.Model;
                sealed class Row { public static ITransformer Model = null!; }
                -->
                ```csharp
                Console.WriteLine(model);
                ```
                """);
            Snippet[] snippets = Extract(file, "test.md").ToArray();
            Assert.HasCount(3, snippets);
            MetadataReference[] references = References();
            StringAssert.Contains(string.Join(" ", Compile(snippets[0], references)), "CrateSegmnt");
            StringAssert.Contains(string.Join(" ", Compile(snippets[1], references)), "CS0103");
            Assert.IsEmpty(Compile(snippets[2], references));
            Assert.AreEqual("test.md:15", snippets[2].Location);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed record Snippet(string Location, string Prelude, string Code);

    /// <summary>The ```csharp blocks of a Markdown file, each with the prelude comment just above its fence (if any).</summary>
    private static IEnumerable<Snippet> Extract(string path, string name)
    {
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp")
                continue;
            int start = i + 1, end = start;
            while (end < lines.Length && lines[end].Trim() != "```") end++;
            // The comment that ends on the last non-blank line above the fence, if any.
            int last = i - 1;
            while (last >= 0 && string.IsNullOrWhiteSpace(lines[last])) last--;
            int first = last;
            while (first >= 0 && last >= 0 && lines[last].TrimEnd().EndsWith("-->", StringComparison.Ordinal) && !lines[first].Contains("<!--", StringComparison.Ordinal)) first--;
            Match prelude = first >= 0 && last >= 0 ? Prelude.Match(string.Join("\n", lines[first..(last + 1)])) : Match.Empty;
            yield return new Snippet($"{name}:{start + 1}", prelude.Success ? prelude.Groups["code"].Value : "",
                string.Join("\n", lines[start..end]));
            i = end;
        }
    }

    private static string[] Compile(Snippet snippet, MetadataReference[] references)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        CompilationUnitSyntax block = CSharpSyntaxTree.ParseText(snippet.Code, parse).GetCompilationUnitRoot();
        CompilationUnitSyntax prelude = CSharpSyntaxTree.ParseText(snippet.Prelude, parse).GetCompilationUnitRoot();
        // The block's file: its using directives and the prelude's, the prelude's statements, then the block. Types the
        // prelude declares go into a file of their own, since types may not precede top-level statements.
        string program = Text(block.Usings) + Text(prelude.Usings) + Text(prelude.Members.OfType<GlobalStatementSyntax>()) + Text(block.Members);
        string types = Text(prelude.Members.Where(m => m is not GlobalStatementSyntax));
        string usings = string.Concat(DocumentedNamespaces.Select(n => $"global using {n};\n"));
        var compilation = CSharpCompilation.Create("Snippet",
            [
                CSharpSyntaxTree.ParseText(usings, parse, path: "usings.cs"),
                CSharpSyntaxTree.ParseText(program, parse, path: snippet.Location, encoding: Encoding.UTF8),
                CSharpSyntaxTree.ParseText(types, parse, path: snippet.Location + " (prelude types)", encoding: Encoding.UTF8),
            ],
            references, new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        return compilation.GetDiagnostics()
            .Where(d => d.Id != "CS5001") // a block of declarations only has no entry point, which is fine
            .Where(d => d.Severity == DiagnosticSeverity.Error || (d.Severity == DiagnosticSeverity.Warning && !ToleratedWarnings.Contains(d.Id)))
            .Select(d => $"{d.Id} {d.GetMessage()} «{Line(d)}»")
            .ToArray();
    }

    private static string Text(IEnumerable<SyntaxNode> nodes) => string.Concat(nodes.Select(n => n.ToFullString()));

    private static string Line(Diagnostic diagnostic) =>
        diagnostic.Location.SourceTree?.GetText().Lines[diagnostic.Location.GetLineSpan().StartLinePosition.Line].ToString().Trim() ?? "";

    /// <summary>The framework and every assembly beside the tests: Crate.*, ML.NET, TorchSharp, ONNX.</summary>
    private static MetadataReference[] References()
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string path in ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator))
            byName[Path.GetFileName(path)] = path;
        foreach (string path in Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            byName.TryAdd(Path.GetFileName(path), path);
        return byName.Values.Where(IsManaged).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
