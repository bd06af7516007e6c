using System.Text.Json;

namespace Crate.Transforms.Tests.Evaluation;

/// <summary>
/// The pycocotools fixtures of Fixtures/Coco: small COCO instances and results files, and expected.json with what
/// pycocotools (built from cocodataset/cocoapi's source, see make_coco_fixtures.py) computed on them.
/// </summary>
internal static class CocoFixtures
{
    private static readonly Lazy<JsonElement> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(PathOf("expected.json"))).RootElement.Clone());

    /// <summary>The full path of a file in Fixtures/Coco.</summary>
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Coco", file);

    /// <summary>A top-level entry of expected.json.</summary>
    public static JsonElement Get(string key) => Expected.Value.GetProperty(key);

    /// <summary>A JSON array of numbers.</summary>
    public static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    /// <summary>A string of '0' and '1', row-major, as booleans.</summary>
    public static bool[] Pixels(string bits) => bits.Select(c => c == '1').ToArray();
}
