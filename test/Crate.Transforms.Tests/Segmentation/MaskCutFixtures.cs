using System.Text.Json;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Segmentation;

/// <summary>One kept object of a MaskCut fixture: its grid mask, box, λ₂ and score, as scipy's run found them.</summary>
internal sealed record FixtureObject(BinaryMask Mask, MaskBox Box, double Eigenvalue, double Score);

/// <summary>One mask at image size, as the fixture's upsampling gives it.</summary>
internal sealed record FixtureImageMask(int Source, bool[] Pixels, MaskBox Box);

/// <summary>
/// The MaskCut fixtures of Fixtures/maskcut.json, written by Fixtures/make_maskcut_fixtures.py: CutLER's procedure
/// (spec, "MaskCut") run with numpy and scipy's dense generalized eigensolver eigh(D − A, D), on planted features and
/// on the PyTorch fixture models' last-layer head features. The expected values come from that script alone.
/// </summary>
internal static class MaskCutFixtures
{
    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(ReferenceFixtures.PathOf("maskcut.json"))).RootElement.Clone());

    /// <summary>The planted cases, by name.</summary>
    public static readonly string[] PlantedCases = ["planted_two_rectangles", "planted_corner_and_bar", "planted_speck", "planted_lone_object"];

    public static JsonElement Case(string name) => Manifest.Value.GetProperty("cases").GetProperty(name);

    /// <summary>The settings the script ran with.</summary>
    public static MaskCutOptions Options(JsonElement testCase)
    {
        JsonElement o = testCase.GetProperty("options");
        return new MaskCutOptions
        {
            MaxObjects = o.GetProperty("n").GetInt32(), AffinityThreshold = o.GetProperty("tau").GetDouble(),
            MaxOverlap = o.GetProperty("max_overlap").GetDouble(), MinAreaFraction = o.GetProperty("min_area").GetDouble(),
        };
    }

    public static (int Height, int Width) Grid(JsonElement testCase)
    {
        JsonElement grid = testCase.GetProperty("grid");
        return (grid[0].GetInt32(), grid[1].GetInt32());
    }

    /// <summary>The features [N, D] of a planted case.</summary>
    public static Tensor Features(JsonElement testCase)
    {
        JsonElement spec = testCase.GetProperty("features");
        byte[] bytes = File.ReadAllBytes(ReferenceFixtures.PathOf(spec.GetProperty("file").GetString()!));
        float[] values = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        long[] shape = spec.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        Assert.AreEqual(shape[0] * shape[1], values.LongLength, "features file size and manifest shape disagree");
        return tensor(values, shape);
    }

    /// <summary>The kept objects of <paramref name="result"/> (a case, or one image of a network case).</summary>
    public static FixtureObject[] Objects(JsonElement result, int height, int width) =>
        result.GetProperty("objects").EnumerateArray().Select(o => new FixtureObject(
            Mask(o.GetProperty("mask"), height, width), Box(o.GetProperty("box")),
            o.GetProperty("eigenvalue").GetDouble(), o.GetProperty("score").GetDouble())).ToArray();

    /// <summary>Whether each of the script's n cuts was kept.</summary>
    public static bool[] CutsKept(JsonElement result) =>
        result.GetProperty("cuts").EnumerateArray().Select(c => c.GetProperty("kept").GetBoolean()).ToArray();

    /// <summary>The masks of one image of a network case at image size.</summary>
    public static FixtureImageMask[] ImageMasks(JsonElement image, int height, int width) =>
        image.GetProperty("image").EnumerateArray().Select(m => new FixtureImageMask(
            m.GetProperty("source").GetInt32(), Mask(m.GetProperty("mask"), height, width).Cells.ToArray(), Box(m.GetProperty("box")))).ToArray();

    private static BinaryMask Mask(JsonElement rows, int height, int width)
    {
        string[] lines = rows.EnumerateArray().Select(r => r.GetString()!).ToArray();
        Assert.HasCount(height, lines, "mask rows");
        Assert.IsTrue(lines.All(l => l.Length == width), "mask row length");
        return new BinaryMask(height, width, string.Concat(lines).Select(c => c == '#').ToArray());
    }

    private static MaskBox Box(JsonElement box) => new(box[0].GetInt32(), box[1].GetInt32(), box[2].GetInt32(), box[3].GetInt32());
}
