using System.Buffers.Binary;
using System.Text.Json;
using Crate.Transforms.Checkpoints;
using Crate.Transforms.Datasets;
using Microsoft.ML.Data;

namespace Crate.Transforms.Tests.Datasets;

/// <summary>
/// The label PNG reader against PNGs written by Pillow and by the fixture script's own zlib/struct encoder (every filter
/// type, bit depths 1/2/4/8, palette and grayscale, split IDAT, an ancillary chunk); the writer against SkiaSharp's
/// independent decoder.
/// </summary>
[TestClass]
public sealed class PngLabelMapTests
{
    [TestMethod]
    public void EveryEncodingDecodesToTheValuesTheEncoderWasGiven()
    {
        JsonElement expected = SegmentationFixtures.Json("png", "expected.json");
        int files = 0;
        foreach (JsonProperty file in expected.EnumerateObject())
        {
            LabelMap map = PngLabelMap.Read(SegmentationFixtures.PathOf("png", file.Name));
            Assert.AreEqual(file.Value.GetProperty("height").GetInt32(), map.Height, file.Name);
            Assert.AreEqual(file.Value.GetProperty("width").GetInt32(), map.Width, file.Name);
            CollectionAssert.AreEqual(file.Value.GetProperty("values").EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray(), map.Values, file.Name);
            files++;
        }
        Assert.AreEqual(10, files, "palette 1/2/4/8 and gray 1/8 by Pillow; palette 8 and gray 1/2/4 with forced filters");
    }

    [TestMethod]
    public void AVocClassMaskKeepsItsPaletteIndices()
    {
        // SegmentationClass/2007_000001.png as the fixture script draws it: person 15, aeroplane 1, void 255.
        LabelMap map = PngLabelMap.Read(Path.Combine(SegmentationFixtures.VocRoot, "SegmentationClass", "2007_000001.png"));
        byte[] expected =
        [
            0, 0, 15, 15, 0, 255,
            0, 15, 15, 15, 255, 255,
            1, 1, 0, 15, 0, 0,
            1, 1, 0, 0, 0, 0,
        ];
        Assert.AreEqual(4, map.Height);
        Assert.AreEqual(6, map.Width);
        CollectionAssert.AreEqual(expected, map.Values);
        Assert.AreEqual(15, map[1, 3]);
    }

    [TestMethod]
    [DataRow("rgb.png", "colour type 2 (RGB)")]
    [DataRow("rgba.png", "colour type 6 (RGBA)")]
    [DataRow("gray16.png", "bit depth 16")]
    [DataRow("interlaced.png", "interlaced")]
    public void UnsupportedEncodingsAreRefusedByName(string file, string problem)
    {
        string path = SegmentationFixtures.PathOf("png", file);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => PngLabelMap.Read(path));
        StringAssert.Contains(error.Message, path);
        StringAssert.Contains(error.Message, problem);
    }

    [TestMethod]
    public void CorruptFilesAreRefusedWithTheProblem()
    {
        byte[] good = File.ReadAllBytes(SegmentationFixtures.PathOf("png", "filters_palette8.png"));
        int idat = IndexOf(good, "IDAT"u8);

        byte[] flipped = (byte[])good.Clone();
        flipped[idat + 6] ^= 0x40;
        StringAssert.Contains(ReadError(flipped), "chunk 'IDAT' fails its CRC check");

        StringAssert.Contains(ReadError(good[..(good.Length - 20)]), "truncated");
        StringAssert.Contains(ReadError("not a PNG at all"u8.ToArray()), "PNG signature");

        // Valid CRC around garbage compressed data: the zlib stream itself is refused.
        byte[] garbage = (byte[])good.Clone();
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(garbage.AsSpan(idat - 4));
        garbage.AsSpan(idat + 4, length).Fill(0x5A);
        BinaryPrimitives.WriteUInt32BigEndian(garbage.AsSpan(idat + 4 + length), Crc32.Compute(garbage.AsSpan(idat, 4 + length)));
        StringAssert.Contains(ReadError(garbage), "compressed image data is corrupt");

        // A scanline filter type beyond 4, in otherwise valid data.
        byte[] badFilter = Recompress(good, raw => raw[0] = 9);
        StringAssert.Contains(ReadError(badFilter), "row 0 has filter type 9");
    }

    [TestMethod]
    public void AMissingFileIsNamed()
    {
        string path = SegmentationFixtures.PathOf("png", "no-such-mask.png");
        var error = Assert.ThrowsExactly<FileNotFoundException>(() => PngLabelMap.Read(path));
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    public void TheVocPaletteHasTheDevkitColours()
    {
        // VOClabelcolormap.m's well-known entries.
        Assert.AreEqual(((byte)0, (byte)0, (byte)0), VocSegmentation.Palette[0]);
        Assert.AreEqual(((byte)128, (byte)0, (byte)0), VocSegmentation.Palette[1]);
        Assert.AreEqual(((byte)0, (byte)128, (byte)0), VocSegmentation.Palette[2]);
        Assert.AreEqual(((byte)64, (byte)0, (byte)0), VocSegmentation.Palette[8]);
        Assert.AreEqual(((byte)192, (byte)128, (byte)128), VocSegmentation.Palette[15]);
        Assert.AreEqual(((byte)224, (byte)224, (byte)192), VocSegmentation.Palette[255]);
        Assert.HasCount(21, VocSegmentation.ClassNames);
        Assert.AreEqual("person", VocSegmentation.ClassNames[15]);
    }

    [TestMethod]
    public void WrittenPalettePngsDecodeToTheirColoursAndBackToTheirIndices()
    {
        using ScratchFolder scratch = SegmentationFixtures.Scratch();
        var map = new LabelMap(3, 4, [0, 1, 15, 255, 2, 2, 0, 1, 20, 15, 15, 0]);
        string palettePath = scratch.File("palette.png"), grayPath = scratch.File("gray.png");
        PngLabelMap.Write(palettePath, map, VocSegmentation.Palette);
        PngLabelMap.Write(grayPath, map);

        CollectionAssert.AreEqual(map.Values, PngLabelMap.Read(palettePath).Values);
        CollectionAssert.AreEqual(map.Values, PngLabelMap.Read(grayPath).Values);
        // SkiaSharp, an independent decoder, sees the palette's colours and the gray levels.
        using (MLImage image = MLImage.CreateFromFile(palettePath))
            for (int i = 0; i < map.Values.Length; i++)
                Assert.AreEqual(VocSegmentation.Palette[map.Values[i]], Rgb(image, i), $"palette pixel {i}");
        using (MLImage image = MLImage.CreateFromFile(grayPath))
            for (int i = 0; i < map.Values.Length; i++)
                Assert.AreEqual((map.Values[i], map.Values[i], map.Values[i]), Rgb(image, i), $"gray pixel {i}");

        Assert.ThrowsExactly<ArgumentException>(() => PngLabelMap.Write(scratch.File("short.png"), map, VocSegmentation.Palette.Take(16).ToArray()));
    }

    private static (byte, byte, byte) Rgb(MLImage image, int pixel)
    {
        ReadOnlySpan<byte> p = image.Pixels.Slice(4 * pixel, 4);
        return image.PixelFormat == MLPixelFormat.Bgra32 ? (p[2], p[1], p[0]) : (p[0], p[1], p[2]);
    }

    private static string ReadError(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => PngLabelMap.Read(stream, "test.png"));
        StringAssert.Contains(error.Message, "'test.png'");
        return error.Message;
    }

    private static int IndexOf(byte[] bytes, ReadOnlySpan<byte> what) => bytes.AsSpan().IndexOf(what);

    /// <summary>The PNG with its image data inflated, changed by <paramref name="change"/>, deflated again, CRC fixed.</summary>
    private static byte[] Recompress(byte[] png, Action<byte[]> change)
    {
        // The fixture's three IDAT chunks joined; the chunk list rebuilt with one IDAT.
        var chunks = new List<(string Type, byte[] Data)>();
        for (int at = 8; at < png.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            chunks.Add((System.Text.Encoding.ASCII.GetString(png, at + 4, 4), png[(at + 8)..(at + 8 + length)]));
            at += 12 + length;
        }
        byte[] compressed = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        using var inflated = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(new MemoryStream(compressed), System.IO.Compression.CompressionMode.Decompress))
            zlib.CopyTo(inflated);
        byte[] raw = inflated.ToArray();
        change(raw);
        using var deflated = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(deflated, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            zlib.Write(raw);
        using var output = new MemoryStream();
        output.Write(png.AsSpan(0, 8));
        bool wroteData = false;
        foreach ((string type, byte[] data) in chunks)
        {
            if (type == "IDAT" && wroteData) continue;
            byte[] body = type == "IDAT" ? deflated.ToArray() : data;
            wroteData |= type == "IDAT";
            var header = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(header, (uint)body.Length);
            System.Text.Encoding.ASCII.GetBytes(type, header.AsSpan(4));
            output.Write(header);
            output.Write(body);
            var crc = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.Compute([.. header.AsSpan(4).ToArray(), .. body]));
            output.Write(crc);
        }
        return output.ToArray();
    }
}
