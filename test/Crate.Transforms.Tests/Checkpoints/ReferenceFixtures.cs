using System.Text.Json;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>The architecture fields of one fixture model, as fixtures.json records them.</summary>
internal sealed record FixtureModel(
    string Name, string File, int ImageHeight, int ImageWidth, int Patch, int Channels, int EmbeddingDim, int Depth,
    int Heads, int HeadDim, int Classes, TokenPooling Pooling)
{
    /// <summary>Patch positions N of the native grid.</summary>
    public int PatchCount => ImageHeight / Patch * (ImageWidth / Patch);
}

/// <summary>
/// The PyTorch fixtures of Fixtures/ (see its README): the manifest fixtures.json, the checkpoints, and the
/// expected arrays as raw little-endian float32 files. The one reader every checkpoint test uses.
/// </summary>
internal static class ReferenceFixtures
{
    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(System.IO.File.ReadAllBytes(PathOf("fixtures.json"))).RootElement.Clone());

    /// <summary>The full path of a file in the fixture folder.</summary>
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", file);

    /// <summary>The architecture fields of model <paramref name="name"/> (crate_square, crate_rect_p4, crate_narrow_inner).</summary>
    public static FixtureModel Model(string name)
    {
        JsonElement m = Manifest.Value.GetProperty("models").GetProperty(name);
        int Int(string field) => m.GetProperty(field).GetInt32();
        return new FixtureModel(name, m.GetProperty("file").GetString()!, Int("image_height"), Int("image_width"), Int("patch"),
            Int("channels"), Int("d"), Int("depth"), Int("heads"), Int("head_dim"), Int("classes"),
            m.GetProperty("pool").GetString() == "mean" ? TokenPooling.Mean : TokenPooling.Cls);
    }

    /// <summary>The expected array <paramref name="array"/> of model <paramref name="model"/>, with its manifest shape.</summary>
    public static Tensor Array(string model, string array)
    {
        JsonElement entry = Manifest.Value.GetProperty("models").GetProperty(model).GetProperty("arrays").GetProperty(array);
        long[] shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        byte[] bytes = System.IO.File.ReadAllBytes(PathOf(entry.GetProperty("file").GetString()!));
        float[] values = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        Assert.AreEqual(shape.Aggregate(1L, (a, b) => a * b), values.LongLength, $"{model}.{array}: file size and manifest shape disagree.");
        return tensor(values, shape);
    }
}
