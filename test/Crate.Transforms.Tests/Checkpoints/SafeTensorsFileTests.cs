using Crate.Testing;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Crate.Transforms.Checkpoints;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// The safetensors writer checked by a parser written here from the format's definition, and the reader on files
/// assembled by hand, valid and not.
/// </summary>
[TestClass]
public sealed class SafeTensorsFileTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-safetensors-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    [TestMethod]
    public void WrittenFileMatchesTheFormatByHand()
    {
        string path = Path.Combine(directory, "small.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["matrix"] = tensor(new float[] { 0, 1, 2, 3, 4, 5 }, new long[] { 2, 3 }),
            ["counts"] = tensor(new long[] { 7, -8, 9 }),
            ["halves"] = tensor(new float[] { 0.5f, -1.25f }).to_type(ScalarType.Float16),
        };
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { ["note"] = "a \"quoted\" value" });

        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.AreEqual(0, (8 + headerLength) % 8, "The data must start 8-byte aligned.");
        string headerText = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        Assert.AreEqual(headerText.TrimEnd(' ').Length, headerText.TrimEnd().Length, "The padding must be spaces.");
        using JsonDocument header = JsonDocument.Parse(headerText);
        JsonElement root = header.RootElement;
        Assert.AreEqual("a \"quoted\" value", root.GetProperty("__metadata__").GetProperty("note").GetString());

        byte[] data = file[(int)(8 + headerLength)..];
        // Name order: counts, halves, matrix.
        AssertEntry(root, data, "counts", "I64", new long[] { 3 }, 0, new long[] { 7, -8, 9 }.SelectMany(BitConverter.GetBytes).ToArray());
        AssertEntry(root, data, "halves", "F16", new long[] { 2 }, 24,
            new[] { (Half)0.5f, (Half)(-1.25f) }.SelectMany(h => BitConverter.GetBytes(h)).ToArray());
        AssertEntry(root, data, "matrix", "F32", new long[] { 2, 3 }, 28,
            new float[] { 0, 1, 2, 3, 4, 5 }.SelectMany(BitConverter.GetBytes).ToArray());
        Assert.HasCount(52, data);
        Assert.AreEqual(4, root.EnumerateObject().Count());
    }

    private static void AssertEntry(JsonElement root, byte[] data, string name, string dtype, long[] shape, int begin, byte[] bytes)
    {
        JsonElement entry = root.GetProperty(name);
        Assert.AreEqual(dtype, entry.GetProperty("dtype").GetString(), name);
        CollectionAssert.AreEqual(shape, entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(), name);
        CollectionAssert.AreEqual(new long[] { begin, begin + bytes.Length },
            entry.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray(), name);
        CollectionAssert.AreEqual(bytes, data[begin..(begin + bytes.Length)], name);
    }

    [TestMethod]
    public void EveryElementTypeRoundTrips()
    {
        string path = Path.Combine(directory, "types.safetensors");
        using var scope = NewDisposeScope();
        Tensor values = tensor(new float[] { 1.5f, -2f, 0f, 3.25f }, new long[] { 2, 2 });
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = values, ["f16"] = values.to_type(ScalarType.Float16), ["bf16"] = values.to_type(ScalarType.BFloat16),
            ["f64"] = values.to_type(ScalarType.Float64), ["i64"] = values.to_type(ScalarType.Int64), ["i32"] = values.to_type(ScalarType.Int32),
            ["i16"] = values.to_type(ScalarType.Int16), ["i8"] = values.to_type(ScalarType.Int8), ["u8"] = values.abs().to_type(ScalarType.Byte),
            ["bool"] = values.gt(0), ["scalar"] = tensor(4.0f), ["empty"] = zeros(0, 3),
            // Written from a non-contiguous view.
            ["transposed"] = values.t(),
        };
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string>());
        (Dictionary<string, Tensor> read, Dictionary<string, string> metadata) = SafeTensorsFile.Read(path);
        Assert.IsEmpty(metadata);
        CollectionAssert.AreEquivalent(tensors.Keys.ToArray(), read.Keys.ToArray());
        foreach ((string name, Tensor expected) in tensors)
        {
            Assert.AreEqual(expected.dtype, read[name].dtype, name);
            NumericAssert.AreEqual(expected, read[name], name);
            read[name].Dispose();
        }
    }

    [TestMethod]
    public void WriteReplacesTheFileAndLeavesNoTemporary()
    {
        string path = Path.Combine(directory, "model.safetensors");
        using var scope = NewDisposeScope();
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["a"] = ones(2) });
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["b"] = zeros(3) });
        Assert.ThrowsExactly<ArgumentException>(
            () => SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["c"] = ones(2).to_type(ScalarType.ComplexFloat32) }));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(directory));
        (Dictionary<string, Tensor> read, _) = SafeTensorsFile.Read(path);
        CollectionAssert.AreEqual(new[] { "b" }, read.Keys.ToArray());
        NumericAssert.AreEqual(zeros(3), read["b"], "the second write");
        read["b"].Dispose();
    }

    [TestMethod]
    [DataRow("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "")]
    [DataRow("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", 8, "data_offsets [0, 16] outside")]
    [DataRow("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [DataRow("""{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}""", 8, "unsupported dtype 'C64'")]
    [DataRow("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlap or gap")]
    [DataRow("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "cover 4 bytes but the data section has 8")]
    [DataRow("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", 0, "negative dimension")]
    [DataRow("""{"__metadata__":{"n":1}}""", 0, "metadata 'n' is not a string")]
    [DataRow("""[1, 2]""", 0, "not a JSON object")]
    [DataRow("""{"w":""", 0, "not the expected JSON")]
    public void HandMadeFilesAreCheckedAgainstTheFormat(string header, int dataBytes, string problem)
    {
        string path = Path.Combine(directory, "hand.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[dataBytes]]);
        if (problem.Length == 0)
        {
            (Dictionary<string, Tensor> read, _) = SafeTensorsFile.Read(path);
            CollectionAssert.AreEqual(new long[] { 2 }, read["w"].shape);
            read["w"].Dispose();
            return;
        }
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(problem, e.Message);
        Assert.Contains(path, e.Message);
    }

    [TestMethod]
    public void HeaderLengthPastTheFileIsRefused()
    {
        string path = Path.Combine(directory, "short.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1000UL), .. "{}"u8.ToArray()]);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => SafeTensorsFile.Read(path));
        Assert.Contains("header length 1000 exceeds the file", e.Message);
    }
}
