using System.Text.Json;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>
/// The files of Fixtures/segmentation, written by make_segmentation_fixtures.py (Pillow, numpy and a zlib/struct PNG
/// encoder of its own), and scratch copies of them for tests that break things.
/// </summary>
internal static class SegmentationFixtures
{
    /// <summary>The full path of a file under Fixtures/segmentation.</summary>
    public static string PathOf(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", "segmentation", .. parts]);

    /// <summary>The committed VOC2012 tree.</summary>
    public static string VocRoot => PathOf("voc", "VOC2012");

    /// <summary>A parsed JSON fixture.</summary>
    public static JsonElement Json(params string[] parts) => JsonDocument.Parse(File.ReadAllBytes(PathOf(parts))).RootElement.Clone();

    /// <summary>A fresh empty folder under the temp directory, deleted with the returned handle.</summary>
    public static ScratchFolder Scratch() => new();

    /// <summary>A copy of the VOC tree in a scratch folder, to break.</summary>
    public static ScratchFolder VocCopy()
    {
        var scratch = new ScratchFolder();
        CopyTree(VocRoot, scratch.Path);
        return scratch;
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from)) File.Copy(file, System.IO.Path.Combine(to, System.IO.Path.GetFileName(file)));
        foreach (string folder in Directory.EnumerateDirectories(from)) CopyTree(folder, System.IO.Path.Combine(to, System.IO.Path.GetFileName(folder)));
    }
}

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class ScratchFolder : IDisposable
{
    public ScratchFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "crate-seg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Floating-point checks that fail on NaN and infinity (a NaN compares false, so a bare bound would pass it).</summary>
internal static class Close
{
    public static void AreEqual(double expected, double actual, double tolerance, string what)
    {
        Assert.IsTrue(double.IsFinite(actual), $"{what}: {actual} is not a finite number.");
        Assert.IsLessThanOrEqualTo(tolerance, Math.Abs(expected - actual), $"{what}: expected {expected:R}, got {actual:R} (tolerance {tolerance:G3}).");
    }
}
