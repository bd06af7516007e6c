using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Crate.Transforms.Checkpoints;

namespace Crate.Transforms.Datasets;

/// <summary>
/// Reads and writes label maps as PNG files, keeping the stored values. Image decoders (MLImage, SkiaSharp) turn a
/// palette PNG into RGBA colours and lose its indices, which are what PASCAL VOC's masks mean (class 15 = person,
/// 255 = void), so masks are read here instead.
/// </summary>
/// <remarks>
/// Reads non-interlaced PNGs of colour type 3 (palette) or 0 (grayscale) at bit depths 1, 2, 4 or 8, every
/// filter type (None, Sub, Up, Average, Paeth), split IDAT chunks; every chunk's CRC is checked. The value of a
/// pixel is its palette index or its raw gray sample (a 1-bit gray PNG gives 0 and 1, not 0 and 255). Anything
/// else (RGB, alpha, 16-bit, interlaced, a bad CRC, truncated data) is refused with an
/// <see cref="InvalidDataException"/> that names the file and the problem.
/// </remarks>
public static class PngLabelMap
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Deflate's largest compression ratio (a run of one byte): 1032 to 1. A file whose header claims more
    /// pixel bytes than its compressed data could hold is refused before anything of that size is allocated.</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads the PNG file at <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxPixels">The most pixels (width·height) accepted, checked from the header before anything of
    /// that size is allocated. Default <see cref="ReaderLimits.DefaultMaxPixels"/> (8192·8192).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a PNG this reader supports, or is larger than
    /// <paramref name="maxPixels"/>; the message says why.</exception>
    public static LabelMap Read(string path, long maxPixels = ReaderLimits.DefaultMaxPixels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The mask file '{path}' does not exist.", path);
        using FileStream stream = File.OpenRead(path);
        return Read(stream, path, maxPixels);
    }

    /// <summary>Reads a PNG from <paramref name="stream"/>; <paramref name="source"/> names it in error messages.</summary>
    /// <param name="stream">The PNG's bytes.</param>
    /// <param name="source">What to call the file in messages.</param>
    /// <param name="maxPixels">As for <see cref="Read(string, long)"/>.</param>
    public static LabelMap Read(Stream stream, string source, long maxPixels = ReaderLimits.DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPixels, 1);
        Exception Bad(string problem) => new InvalidDataException($"'{source}' is not a readable label PNG: {problem}");

        Span<byte> signature = stackalloc byte[8];
        if (stream.ReadAtLeast(signature, 8, throwOnEndOfStream: false) < 8 || !signature.SequenceEqual(Signature))
            throw Bad("it does not start with the PNG signature.");

        int width = 0, height = 0, bitDepth = 0;
        long stride = 0, rawLength = 0;
        bool sawHeader = false, sawPalette = false, sawEnd = false;
        byte colourType = 0;
        var compressed = new MemoryStream();
        Span<byte> lengthAndType = stackalloc byte[8];
        Span<byte> crcBytes = stackalloc byte[4];
        var piece = new byte[16384];
        while (!sawEnd)
        {
            if (stream.ReadAtLeast(lengthAndType, 8, throwOnEndOfStream: false) < 8)
                throw Bad(sawHeader ? "the file ends before its IEND chunk (truncated)." : "the file ends before its IHDR chunk.");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(lengthAndType);
            string type = Encoding.ASCII.GetString(lengthAndType[4..]);
            // Sizes are checked before anything is read or allocated: a chunk cannot be longer than what is left of the
            // file, IHDR is 13 bytes, a palette at most 256 entries, and the image data at most what the pixels need
            // stored uncompressed (deflate's stored blocks add 5 bytes per 65535) plus a margin.
            if (length > int.MaxValue) throw Bad($"chunk '{type}' claims {length} bytes.");
            if (stream.CanSeek && length + 4L > stream.Length - stream.Position)
                throw Bad($"chunk '{type}' claims {length} bytes, but only {Math.Max(0, stream.Length - stream.Position - 4)} follow (truncated or corrupt).");
            if (!sawHeader && type != "IHDR") throw Bad($"the first chunk is '{type}', not IHDR.");
            if (type == "IHDR" && length != 13) throw Bad($"its IHDR chunk has {length} bytes instead of 13.");
            if (type == "PLTE" && length > 3 * 256) throw Bad($"its PLTE chunk has {length} bytes; a palette has at most 256 entries of 3.");
            if (type == "IDAT" && compressed.Length + length > rawLength + rawLength / 8192 + 4096)
                throw Bad($"its image data is over {compressed.Length + length} bytes, more than {width}×{height} pixels at {bitDepth} bits need even uncompressed.");
            bool keep = type is "IHDR" or "IDAT";
            long start = compressed.Length;
            uint crc = Crc32.Update(Crc32.Initial, lengthAndType[4..]);
            for (int left = (int)length; left > 0;)
            {
                int n = stream.ReadAtLeast(piece.AsSpan(0, Math.Min(left, piece.Length)), Math.Min(left, piece.Length), throwOnEndOfStream: false);
                if (n == 0) throw Bad($"the file ends inside chunk '{type}' (truncated).");
                crc = Crc32.Update(crc, piece.AsSpan(0, n));
                if (keep) compressed.Write(piece, 0, n);
                left -= n;
            }
            if (stream.ReadAtLeast(crcBytes, 4, throwOnEndOfStream: false) < 4) throw Bad($"the file ends inside chunk '{type}' (truncated).");
            if (~crc != BinaryPrimitives.ReadUInt32BigEndian(crcBytes)) throw Bad($"chunk '{type}' fails its CRC check (the file is corrupt).");
            switch (type)
            {
                case "IHDR":
                    if (sawHeader) throw Bad("it has two IHDR chunks.");
                    // The header went into the image-data buffer (empty until now) only to be read here.
                    byte[] data = compressed.ToArray();
                    compressed.SetLength(0);
                    sawHeader = true;
                    uint claimedWidth = BinaryPrimitives.ReadUInt32BigEndian(data), claimedHeight = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4));
                    if (claimedWidth is 0 or > int.MaxValue || claimedHeight is 0 or > int.MaxValue) throw Bad($"its size is {claimedWidth}×{claimedHeight}.");
                    (width, height) = ((int)claimedWidth, (int)claimedHeight);
                    long pixels = (long)width * height;
                    if (pixels > maxPixels)
                        throw Bad($"it is {width}×{height} = {pixels} pixels, more than the {maxPixels} accepted (the reader's maxPixels, default {ReaderLimits.DefaultMaxPixels}).");
                    if (pixels > Array.MaxLength) throw Bad($"it is {width}×{height} = {pixels} pixels, more than one array holds.");
                    bitDepth = data[8];
                    colourType = data[9];
                    if (colourType is not (0 or 3))
                        throw Bad($"colour type {colourType} ({ColourTypeName(colourType)}) is not supported; label masks must be palette-indexed " +
                            "(colour type 3) or grayscale (colour type 0), so that each pixel stores its class or instance id.");
                    if (bitDepth is not (1 or 2 or 4 or 8))
                        throw Bad($"bit depth {bitDepth} is not supported for {ColourTypeName(colourType)} label masks (1, 2, 4 or 8 are).");
                    if (data[10] != 0 || data[11] != 0) throw Bad($"compression method {data[10]} / filter method {data[11]} is not PNG's 0 / 0.");
                    if (data[12] != 0) throw Bad("it is interlaced (Adam7), which this reader does not support; save the mask without interlacing.");
                    stride = checked(((long)width * bitDepth + 7) / 8);
                    rawLength = checked(height * (stride + 1));
                    break;
                case "PLTE":
                    sawPalette = true;
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                case "IDAT":
                    break;
                default:
                    // Ancillary chunks (lower-case first letter: gAMA, tRNS, tEXt, ...) do not change the stored values.
                    if (char.IsUpper(type[0])) throw Bad($"it has an unknown critical chunk '{type}'.");
                    break;
            }
        }
        if (colourType == 3 && !sawPalette) throw Bad("it is palette-indexed but has no PLTE chunk.");
        if (compressed.Length == 0) throw Bad("it has no IDAT chunk.");
        if (rawLength > compressed.Length * MaxDeflateRatio + 1024)
            throw Bad($"its {width}×{height} pixels need {rawLength} bytes, more than its {compressed.Length} compressed bytes can hold (truncated or forged).");

        // Inflated one row at a time: the values are the only buffer of the image's size.
        var values = new byte[checked((long)width * height)];
        var previous = new byte[stride];
        var current = new byte[stride + 1];
        compressed.Position = 0;
        using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
        for (int row = 0; row < height; row++)
        {
            int inflated;
            try
            {
                inflated = zlib.ReadAtLeast(current, current.Length, throwOnEndOfStream: false);
            }
            catch (InvalidDataException e)
            {
                throw Bad($"its compressed image data is corrupt ({e.Message}).");
            }
            if (inflated < current.Length)
                throw Bad($"its image data ends in row {row} of {height} ({width}×{height} at {bitDepth} bits needs {rawLength} bytes; truncated).");
            Span<byte> line = current.AsSpan(1);
            Unfilter(current[0], line, previous, row, Bad);
            Unpack(line, bitDepth, values.AsSpan(checked(row * width), width));
            line.CopyTo(previous);
        }
        return new LabelMap(height, width, values);
    }

    /// <summary>
    /// Writes <paramref name="map"/> as an 8-bit PNG: palette-indexed with <paramref name="palette"/> (up to 256
    /// RGB entries, e.g. <see cref="VocSegmentation.Palette"/>), or grayscale when it is null. Every value must
    /// have a palette entry.
    /// </summary>
    public static void Write(string path, LabelMap map, IReadOnlyList<(byte R, byte G, byte B)>? palette = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = File.Create(path);
        Write(stream, map, palette);
    }

    /// <summary>Writes <paramref name="map"/> to <paramref name="stream"/>; see <see cref="Write(string, LabelMap, IReadOnlyList{ValueTuple{byte, byte, byte}}?)"/>.</summary>
    public static void Write(Stream stream, LabelMap map, IReadOnlyList<(byte R, byte G, byte B)>? palette = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(map);
        if (palette is not null)
        {
            if (palette.Count is 0 or > 256) throw new ArgumentException($"A PNG palette has 1 to 256 entries, not {palette.Count}.", nameof(palette));
            byte largest = map.Values.Length == 0 ? (byte)0 : map.Values.Max();
            if (largest >= palette.Count)
                throw new ArgumentException($"The map holds value {largest}, but the palette has only {palette.Count} entries.", nameof(palette));
        }
        stream.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)map.Width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)map.Height);
        header[8] = 8;
        header[9] = palette is null ? (byte)0 : (byte)3;
        WriteChunk(stream, "IHDR", header);
        if (palette is not null)
            WriteChunk(stream, "PLTE", palette.SelectMany(c => new[] { c.R, c.G, c.B }).ToArray());
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int row = 0; row < map.Height; row++)
            {
                zlib.WriteByte(0); // filter None: label maps compress well without prediction
                zlib.Write(map.Values, row * map.Width, map.Width);
            }
        }
        WriteChunk(stream, "IDAT", compressed.ToArray());
        WriteChunk(stream, "IEND", []);
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        stream.Write(word);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, ~Crc32.Update(Crc32.Update(Crc32.Initial, typeBytes), data));
        stream.Write(word);
    }

    /// <summary>Undoes one scanline's filter (PNG spec §9); samples here are at most 8 bits, so the byte to the left is 1 back.</summary>
    private static void Unfilter(byte filter, Span<byte> line, ReadOnlySpan<byte> above, int row, Func<string, Exception> bad)
    {
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = 1; i < line.Length; i++) line[i] += line[i - 1];
                break;
            case 2:
                for (int i = 0; i < line.Length; i++) line[i] += above[i];
                break;
            case 3:
                for (int i = 0; i < line.Length; i++) line[i] += (byte)(((i > 0 ? line[i - 1] : 0) + above[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < line.Length; i++) line[i] += Paeth(i > 0 ? line[i - 1] : (byte)0, above[i], i > 0 ? above[i - 1] : (byte)0);
                break;
            default:
                throw bad($"row {row} has filter type {filter}; PNG defines 0 to 4.");
        }
    }

    private static byte Paeth(byte left, byte up, byte upLeft)
    {
        int p = left + up - upLeft;
        int pa = Math.Abs(p - left), pb = Math.Abs(p - up), pc = Math.Abs(p - upLeft);
        return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
    }

    /// <summary>Sub-byte samples are packed from the most significant bit (PNG spec §7.2).</summary>
    private static void Unpack(ReadOnlySpan<byte> line, int bitDepth, Span<byte> values)
    {
        if (bitDepth == 8)
        {
            line[..values.Length].CopyTo(values);
            return;
        }
        int perByte = 8 / bitDepth, mask = (1 << bitDepth) - 1;
        for (int x = 0; x < values.Length; x++)
        {
            int shift = 8 - bitDepth * (x % perByte + 1);
            values[x] = (byte)((line[x / perByte] >> shift) & mask);
        }
    }

    private static string ColourTypeName(byte colourType) => colourType switch
    {
        0 => "grayscale",
        2 => "RGB",
        3 => "palette",
        4 => "grayscale with alpha",
        6 => "RGBA",
        _ => "undefined",
    };
}
