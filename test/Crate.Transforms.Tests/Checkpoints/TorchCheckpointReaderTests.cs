using Crate.Testing;
using Crate.Transforms.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Checkpoints;

/// <summary>
/// Reading torch.save archives: the PyTorch fixtures (three wrappers, four files that must be refused) and
/// hand-made archives whose expected contents follow from the pickle and archive formats.
/// </summary>
[TestClass]
public sealed class TorchCheckpointReaderTests
{
    private string directory = "";

    [TestInitialize]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("crate-reader-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    [TestMethod]
    [DataRow("crate_square")]
    [DataRow("crate_rect_p4")]
    [DataRow("crate_narrow_inner")]
    public void ReadsTheStateDictOfEveryWrapper(string name)
    {
        FixtureModel fixture = ReferenceFixtures.Model(name);
        Dictionary<string, Tensor> state = TorchCheckpointReader.ReadStateDict(ReferenceFixtures.PathOf(fixture.File));
        try
        {
            // The spec's key list: 6 patch-embedding tensors, cls, pos, 8 per layer, 4 in the head.
            Assert.HasCount(8 + 8 * fixture.Depth + 4, state);
            Assert.IsFalse(state.Keys.Any(k => k.StartsWith("module.", StringComparison.Ordinal)), "The DataParallel prefix must go.");
            CollectionAssert.AreEqual(new long[] { 1, fixture.PatchCount + 1, fixture.EmbeddingDim }, state["pos_embedding"].shape);
            CollectionAssert.AreEqual(new long[] { fixture.Heads * fixture.HeadDim, fixture.EmbeddingDim },
                state[$"transformer.layers.{fixture.Depth - 1}.0.fn.qkv.weight"].shape);
            Assert.IsTrue(state.Values.All(t => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous()));
        }
        finally
        {
            foreach (Tensor tensor in state.Values)
                tensor.Dispose();
        }
    }

    [TestMethod]
    public void MissingFileThrowsFileNotFound()
    {
        string path = Path.Combine(directory, "absent.pt");
        FileNotFoundException e = Assert.ThrowsExactly<FileNotFoundException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.AreEqual(path, e.FileName);
        Assert.Contains(path, e.Message);
    }

    [TestMethod]
    public void PlainTextIsNotACheckpoint()
    {
        string path = ReferenceFixtures.PathOf("not_a_checkpoint.pt");
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("not a PyTorch checkpoint (zip archive)", e.Message);
        Assert.Contains(path, e.Message);
    }

    [TestMethod]
    [DataRow("half")]
    [DataRow("local header only")]
    [DataRow("last byte removed")]
    public void TruncatedArchiveIsRefused(string cut)
    {
        byte[] whole = File.ReadAllBytes(ReferenceFixtures.PathOf("crate_square.pt"));
        int length = cut switch
        {
            "half" => whole.Length / 2,
            // The 30-byte local file header and the name of the first entry, crate_square/data.pkl.
            "local header only" => 30 + "crate_square/data.pkl".Length,
            _ => whole.Length - 1,
        };
        string path = Path.Combine(directory, "truncated.pt");
        File.WriteAllBytes(path, whole[..length]);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("truncated or corrupt", e.Message);
        Assert.Contains(path, e.Message);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(18)]
    [DataRow(5000)]
    [DataRow(15200)]
    public void CorruptedPickleBytesAreRefused(int offset)
    {
        byte[] bytes = File.ReadAllBytes(ReferenceFixtures.PathOf("crate_square.pt"));
        int start = EntryData(bytes, "crate_square/data.pkl");
        // Offset 18 is the operand of BININT1 3 (the epoch): the pickle stays well-formed, only the checksum can tell.
        bytes[start + offset] ^= 0x01;
        string path = Path.Combine(directory, "corrupt.pt");
        File.WriteAllBytes(path, bytes);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("entry crate_square/data.pkl fails its CRC-32 check", e.Message);
        Assert.Contains(path, e.Message);
    }

    [TestMethod]
    public void CorruptedTensorBytesAreRefused()
    {
        byte[] bytes = File.ReadAllBytes(ReferenceFixtures.PathOf("crate_square.pt"));
        bytes[EntryData(bytes, "crate_square/data/0") + 100] ^= 0x40;
        string path = Path.Combine(directory, "corrupt.pt");
        File.WriteAllBytes(path, bytes);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("entry crate_square/data/0 fails its CRC-32 check", e.Message);
    }

    /// <summary>
    /// Where the data of a zip entry starts, from the zip format's local file header: signature PK\x03\x04, name
    /// length at +26, extra-field length at +28, the name at +30, then the extra field, then the data.
    /// </summary>
    private static int EntryData(byte[] zip, string name)
    {
        byte[] nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
        for (int header = 0; header + 30 + nameBytes.Length <= zip.Length; header++)
        {
            if (zip[header] == (byte)'P' && zip[header + 1] == (byte)'K' && zip[header + 2] == 3 && zip[header + 3] == 4
                && BitConverter.ToUInt16(zip, header + 26) == nameBytes.Length
                && zip.AsSpan(header + 30, nameBytes.Length).SequenceEqual(nameBytes))
                return header + 30 + nameBytes.Length + BitConverter.ToUInt16(zip, header + 28);
        }
        throw new AssertFailedException($"No local header for {name}.");
    }

    [TestMethod]
    public void UnsupportedOpcodeIsNamed()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(
            () => TorchCheckpointReader.ReadStateDict(ReferenceFixtures.PathOf("unsupported_opcode.pt")));
        // data.pkl is b'\x80\x02\x82\x01.': EXT1 at offset 2.
        Assert.Contains("opcode 0x82", e.Message);
        Assert.Contains("offset 2", e.Message);
    }

    [TestMethod]
    public void ComplexStorageIsNamedWithItsKey()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(
            () => TorchCheckpointReader.ReadStateDict(ReferenceFixtures.PathOf("complex_dtype.pt")));
        Assert.Contains("unsupported storage ComplexFloatStorage in key 'w'", e.Message);
    }

    [TestMethod]
    public void ForbiddenGlobalIsRefusedWhereItIsRead()
    {
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(
            () => TorchCheckpointReader.ReadStateDict(ReferenceFixtures.PathOf("evil_global.pt")));
        // pickletools places GLOBAL 'posix system' at offset 197 and its REDUCE at 233: refused at the first.
        Assert.Contains("'posix.system'", e.Message);
        Assert.Contains("offset 197", e.Message);
    }

    [TestMethod]
    public void ForbiddenGlobalRunsNothing()
    {
        string marker = Path.Combine(directory, "pwned");
        string path = Path.Combine(directory, "evil.pt");
        new HandMadeCheckpoint().Protocol2().Global("posix", "system").Text($"touch {marker}").Op(0x85, (byte)'R', (byte)'.').Save(path);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("'posix.system'", e.Message);
        Assert.IsFalse(File.Exists(marker), "The payload ran.");
    }

    [TestMethod]
    public void StridedViewsAndElementTypesAreReadAsPyTorchDefinesThem()
    {
        float[] six = { 0, 1, 2, 3, 4, 5 };
        byte[] half = new[] { (Half)1.5f, (Half)(-2f) }.SelectMany(h => BitConverter.GetBytes(h)).ToArray();
        // bfloat16 is the top half of a float32: 1.0f is 0x3F800000, -0.5f is 0xBF000000.
        byte[] bfloat = { 0x80, 0x3f, 0x00, 0xbf };
        string path = Path.Combine(directory, "strided.pt");
        new HandMadeCheckpoint().Protocol2().Op((byte)'}', (byte)'(')
            .Text("transposed").Tensor("FloatStorage", "0", 6, 0, new[] { 3, 2 }, new[] { 1, 3 })
            .Text("every_other").Tensor("FloatStorage", "0", 6, 1, new[] { 2 }, new[] { 2 }, location: "cuda:0")
            .Text("half").Tensor("HalfStorage", "1", 2, 0, new[] { 2 }, new[] { 1 })
            .Text("bfloat").Tensor("BFloat16Storage", "2", 2, 0, new[] { 2 }, new[] { 1 })
            .Text("long").Tensor("LongStorage", "3", 1, 0, System.Array.Empty<int>(), System.Array.Empty<int>())
            .Op((byte)'u', (byte)'.')
            .Storage("0", six.SelectMany(BitConverter.GetBytes).ToArray())
            .Storage("1", half).Storage("2", bfloat).Storage("3", BitConverter.GetBytes(-7L))
            .Save(path, byteOrder: "little");
        Dictionary<string, Tensor> state = TorchCheckpointReader.ReadStateDict(path);
        using var scope = NewDisposeScope();
        NumericAssert.AreEqual(tensor(new float[] { 0, 3, 1, 4, 2, 5 }, new long[] { 3, 2 }), state["transposed"], "transposed view");
        NumericAssert.AreEqual(tensor(new float[] { 1, 3 }), state["every_other"], "offset, stride-2 view");
        Assert.AreEqual(ScalarType.Float16, state["half"].dtype);
        NumericAssert.AreEqual(tensor(new float[] { 1.5f, -2f }), state["half"].to_type(ScalarType.Float32), "float16");
        Assert.AreEqual(ScalarType.BFloat16, state["bfloat"].dtype);
        NumericAssert.AreEqual(tensor(new float[] { 1f, -0.5f }), state["bfloat"].to_type(ScalarType.Float32), "bfloat16");
        Assert.AreEqual(ScalarType.Int64, state["long"].dtype);
        Assert.AreEqual(-7L, state["long"].item<long>());
        foreach (Tensor t in state.Values)
            t.Dispose();
    }

    [TestMethod]
    public void StorageShorterThanItsElementCountIsRefused()
    {
        string path = Path.Combine(directory, "short.pt");
        new HandMadeCheckpoint().Protocol2().Op((byte)'}', (byte)'(')
            .Text("w").Tensor("FloatStorage", "0", 6, 0, new[] { 6 }, new[] { 1 })
            .Op((byte)'u', (byte)'.').Storage("0", new byte[20]).Save(path);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("storage '0'", e.Message);
        Assert.Contains("24 bytes", e.Message);
        Assert.Contains("20 bytes", e.Message);
    }

    [TestMethod]
    public void ViewPastItsStorageIsRefused()
    {
        string path = Path.Combine(directory, "overrun.pt");
        new HandMadeCheckpoint().Protocol2().Op((byte)'}', (byte)'(')
            .Text("w").Tensor("FloatStorage", "0", 6, 0, new[] { 4 }, new[] { 2 })
            .Op((byte)'u', (byte)'.').Storage("0", new byte[24]).Save(path);
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("reaches past the 6 elements", e.Message);
    }

    [TestMethod]
    public void BigEndianArchiveIsRefused()
    {
        string path = Path.Combine(directory, "big.pt");
        new HandMadeCheckpoint().Protocol2().Op((byte)'}', (byte)'.').Save(path, byteOrder: "big");
        CheckpointFormatException e = Assert.ThrowsExactly<CheckpointFormatException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("'big' byte order", e.Message);
    }
}
