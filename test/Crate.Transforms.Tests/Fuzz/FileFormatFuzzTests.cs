using Crate.Transforms.Checkpoints;
using Crate.Transforms.Datasets;
using Crate.Transforms.Evaluation;
using Crate.Transforms.MLNet;
using Crate.Transforms.Network;
using Crate.Transforms.Onnx;
using Crate.Transforms.Segmentation;
using Crate.Transforms.Tests.Checkpoints;
using Crate.Transforms.Tests.Datasets;
using Crate.Transforms.Tests.Readouts;
using Microsoft.ML;
using static TorchSharp.torch;

namespace Crate.Transforms.Tests.Fuzz;

/// <summary>
/// Every reader of untrusted files against 500 mutants of the committed fixtures (or of files written from them),
/// one seeded generator per format (<see cref="FileFuzzer"/>): each mutant is read or refused with the format's named
/// exception — never NullReference, IndexOutOfRange, OutOfMemory, an overflow or a native crash — within a per-file
/// time bound and a bound on managed allocation far below what an unchecked header would claim.
/// </summary>
[TestClass]
public sealed class FileFormatFuzzTests
{
    private const int Mutants = 500;

    /// <summary>Ten times the largest seed's decoded size and more: a reader that trusts a claimed length allocates gigabytes.</summary>
    private const long AllocationBound = 64L << 20;

    private ScratchFolder scratch = null!;

    [TestInitialize]
    public void MakeScratch() => scratch = new ScratchFolder();

    [TestCleanup]
    public void RemoveScratch() => scratch.Dispose();

    [TestMethod]
    public void PngMasks()
    {
        byte[][] seeds = Directory.GetFiles(SegmentationFixtures.PathOf("png"), "*.png").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        FileFuzzer.Outcome outcome = FileFuzzer.Run(seeds, Mutants, seed: 1701, (i, _) => scratch.File("mask.png"),
            path => PngLabelMap.Read(path), [typeof(InvalidDataException)], AllocationBound, repair: RepairPngCrcs);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "PNG masks");
    }

    [TestMethod]
    public void CocoJson()
    {
        byte[][] seeds = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Coco"), "*_gt.json")
            .Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        FileFuzzer.Outcome outcome = FileFuzzer.Run(seeds, Mutants, seed: 1702, (i, _) => scratch.File("instances.json"),
            path => CocoDataset.Load(path), [typeof(CocoFormatException)], AllocationBound, text: true);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "COCO JSON");
    }

    [TestMethod]
    public void VocTrees()
    {
        using ScratchFolder voc = SegmentationFixtures.VocCopy();
        string root = voc.Path;
        string[] targets = [.. Directory.GetFiles(Path.Combine(root, "SegmentationClass")), .. Directory.GetFiles(Path.Combine(root, "SegmentationObject")),
            Path.Combine(root, "ImageSets", "Segmentation", "val.txt")];
        Array.Sort(targets, StringComparer.Ordinal);
        byte[][] seeds = targets.Select(File.ReadAllBytes).ToArray();
        var context = new MLContext(seed: 0);
        FileFuzzer.Outcome outcome = FileFuzzer.Run(seeds, Mutants, seed: 1703, (i, which) =>
        {
            // Every file back as committed, then one mutated.
            for (int k = 0; k < targets.Length; k++) File.WriteAllBytes(targets[k], seeds[k]);
            return targets[which];
        }, _ => ReadEveryColumnButTheImage(context.Data.LoadVocSegmentation(root, "val")),
            [typeof(InvalidDataException), typeof(FileNotFoundException)], AllocationBound);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "VOC trees");
    }

    [TestMethod]
    public void SafeTensors()
    {
        string original = FixtureImages.SaveModelFile();
        byte[] seed;
        try
        {
            seed = File.ReadAllBytes(original);
        }
        finally
        {
            File.Delete(original);
        }
        // The tensors and the architecture of the metadata: what CrateModelFile.Load reads before it builds the network.
        FileFuzzer.Outcome outcome = FileFuzzer.Run([seed], Mutants, seed: 1704, (i, _) => scratch.File("model.safetensors"), path =>
        {
            (Dictionary<string, Tensor> tensors, _) = SafeTensorsFile.Read(path);
            foreach (Tensor t in tensors.Values) t.Dispose();
            CrateModelFile.ReadArchitecture(path);
        }, [typeof(CheckpointFormatException)], AllocationBound);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "safetensors");
    }

    [TestMethod]
    public void Checkpoints()
    {
        byte[][] seeds = [File.ReadAllBytes(ReferenceFixtures.PathOf("crate_square.pt")), File.ReadAllBytes(ReferenceFixtures.PathOf("crate_rect_p4.pt"))];
        FileFuzzer.Outcome outcome = FileFuzzer.Run(seeds, Mutants, seed: 1705, (i, _) => scratch.File("checkpoint.pth"), path =>
        {
            foreach (Tensor t in TorchCheckpointReader.ReadStateDict(path).Values) t.Dispose();
        }, [typeof(CheckpointFormatException)], AllocationBound);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "checkpoints (.pth)");
    }

    [TestMethod]
    public void OnnxInfo()
    {
        string exported = scratch.File("exported.onnx");
        using (CrateModel model = FixtureImages.Import()) CrateOnnxExporter.Export(model, exported);
        byte[] seed = File.ReadAllBytes(exported);
        FileFuzzer.Outcome outcome = FileFuzzer.Run([seed], Mutants, seed: 1706, (i, _) => scratch.File("model.onnx"),
            path => CrateOnnxModelInfo.Read(path), [typeof(CrateOnnxFormatException)], AllocationBound);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "ONNX info");
    }

    [TestMethod]
    public void PipelineZip()
    {
        string saved = scratch.File("saved.zip");
        var context = new MLContext(seed: 1);
        var data = FixtureImages.Data(context);
        using (CrateModel imported = FixtureImages.Import())
        using (CrateAttentionTransformer fitted = context.Transforms.CrateAttention(imported, new CrateAttentionOptions { Device = ComputeDevice.Cpu }).Fit(data))
            CratePipelineFile.Save(context, fitted, data.Schema, saved);
        byte[] seed = File.ReadAllBytes(saved);
        FileFuzzer.Outcome outcome = FileFuzzer.Run([seed], Mutants, seed: 1707, (i, _) => scratch.File("pipeline.zip"), path =>
        {
            ITransformer loaded = CratePipelineFile.Load(context, path, out _);
            (loaded as IDisposable)?.Dispose();
        }, [typeof(InvalidDataException), typeof(CheckpointFormatException), typeof(CheckpointMismatchException)], AllocationBound);
        FileFuzzer.AssertNamedOnly(outcome, Mutants, "pipeline .zip");
    }

    [TestMethod]
    public void APngWhoseHeaderClaimsGigapixelsIsRefusedBeforeAnythingOfThatSizeIsAllocated()
    {
        // A valid 64×64 mask whose IHDR then claims 60000×60000 (3.6 G pixels), its CRC made right: only the header lies.
        var stream = new MemoryStream();
        PngLabelMap.Write(stream, new LabelMap(64, 64, new byte[64 * 64]));
        byte[] forged = stream.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(16), 60000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(20), 60000);
        forged = RepairPngCrcs(forged);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var budget = Assert.ThrowsExactly<InvalidDataException>(() => PngLabelMap.Read(new MemoryStream(forged), "forged.png"));
        StringAssert.Contains(budget.Message, "60000×60000 = 3600000000 pixels, more than the 67108864 accepted");
        // Within the default budget (8000×8000 = 64 M pixels) the claim meets the compressed data: 4 KiB of deflate cannot hold 64 MB.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(16), 8000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(20), 8000);
        forged = RepairPngCrcs(forged);
        var ratio = Assert.ThrowsExactly<InvalidDataException>(() => PngLabelMap.Read(new MemoryStream(forged), "forged.png"));
        StringAssert.Contains(ratio.Message, "more than its");
        Assert.IsLessThan(1L << 20, GC.GetAllocatedBytesForCurrentThread() - before, "bytes allocated to refuse both");
        // The budget is the reader's option: the true 64×64 = 4096 pixels pass a budget of 4096 and fail one of 4095.
        byte[] honest = stream.ToArray();
        Assert.AreEqual(64, PngLabelMap.Read(new MemoryStream(honest), "honest.png", maxPixels: 4096).Width);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => PngLabelMap.Read(new MemoryStream(honest), "honest.png", maxPixels: 4095)).Message,
            "more than the 4095 accepted");
    }

    [TestMethod]
    public void TheDatasetReadersRefuseARecordOverTheirPixelBudget()
    {
        // The val split's masks are 5×3 (15 pixels) and 6×4 (24), by their IHDR chunks: a budget of 23 refuses the second.
        IDataView tight = new MLContext().Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "val", new VocSegmentationOptions { MaxPixels = 23 });
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => ReadEveryColumnButTheImage(tight)).Message, "6×4 = 24 pixels, more than the 23 accepted");
        ReadEveryColumnButTheImage(new MLContext().Data.LoadVocSegmentation(SegmentationFixtures.VocRoot, "val", new VocSegmentationOptions { MaxPixels = 24 }));
        // Images are checked from their header before decoding: the 5×3 JPEG against a budget of 14 and of 15.
        string images = Path.Combine(SegmentationFixtures.VocRoot, "JPEGImages");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => FirstImage(images, 14)).Message, "5×3 = 15 pixels, more than the reader's MaxPixels 14");
        using Microsoft.ML.Data.MLImage image = FirstImage(images, 15);
        Assert.AreEqual(15, image.Width * image.Height);
    }

    /// <summary>The image of 2007_000002 read by the image-folder reader with a budget of <paramref name="maxPixels"/>.</summary>
    private static Microsoft.ML.Data.MLImage FirstImage(string folder, long maxPixels)
    {
        IDataView view = new MLContext().Data.LoadImageFolder(folder, new ImageFolderOptions { MaxPixels = maxPixels });
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema);
        ValueGetter<ReadOnlyMemory<char>> name = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["Name"]);
        ValueGetter<Microsoft.ML.Data.MLImage> image = cursor.GetGetter<Microsoft.ML.Data.MLImage>(view.Schema["Image"]);
        while (cursor.MoveNext())
        {
            ReadOnlyMemory<char> n = default;
            name(ref n);
            if (n.ToString() != "2007_000002") continue;
            Microsoft.ML.Data.MLImage decoded = null!;
            image(ref decoded);
            return decoded;
        }
        throw new AssertFailedException("2007_000002 is not in the folder.");
    }

    /// <summary>Every chunk's CRC recomputed (PNG spec annex D: CRC-32 of the type and data, reflected polynomial
    /// 0xEDB88320, bit by bit), as far as the chunk lengths lead through the file.</summary>
    private static byte[] RepairPngCrcs(byte[] png)
    {
        byte[] bytes = (byte[])png.Clone();
        for (long at = 8; at + 12 <= bytes.Length;)
        {
            long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan((int)at));
            if (at + 12 + length > bytes.Length) break;
            uint crc = 0xFFFFFFFF;
            foreach (byte b in bytes.AsSpan((int)at + 4, (int)length + 4))
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan((int)(at + 8 + length)), ~crc);
            at += 12 + length;
        }
        return bytes;
    }

    private static void ReadEveryColumnButTheImage(IDataView view)
    {
        using DataViewRowCursor cursor = view.GetRowCursor(view.Schema.Where(c => c.Name != "Image"));
        var getters = view.Schema.Where(c => c.Name != "Image").Select(c => MakeReader(cursor, c)).ToArray();
        while (cursor.MoveNext())
            foreach (Action get in getters) get();
    }

    private static Action MakeReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        Type raw = column.Type.RawType;
        var method = typeof(FileFormatFuzzTests).GetMethod(nameof(Reader), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(raw);
        return (Action)method.Invoke(null, [cursor, column])!;
    }

    private static Action Reader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        ValueGetter<T> getter = cursor.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
        };
    }
}
