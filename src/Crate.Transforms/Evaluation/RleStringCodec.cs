using System.Text;

namespace Crate.Transforms.Evaluation;

/// <summary>
/// The "counts" string of COCO's compressed RLE (maskApi rleToString / rleFrString). Each count from the fourth on is
/// stored as its difference to the count two places before (runs of 0s and of 1s each change slowly from column to
/// column); the third is stored as it is, as maskApi does. A value is written 5 bits at a time, least significant
/// first, as the characters 48 + c (c &lt; 64): bit 0x20 of c says another character follows, and bit 0x10 of the
/// last character is the sign, extended through the bits above it.
/// </summary>
internal static class RleStringCodec
{
    public static string Encode(ReadOnlySpan<uint> counts)
    {
        var text = new StringBuilder(counts.Length * 2);
        for (int i = 0; i < counts.Length; i++)
        {
            long x = counts[i];
            if (i > 2) x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                int c = (int)(x & 0x1f);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                text.Append((char)(c + 48));
            }
        }
        return text.ToString();
    }

    /// <exception cref="FormatException">A character outside '0'..'o', a value cut off at the end of the string, a
    /// value too long for 32 bits, or a count that decodes below 0 or above 2³² − 1.</exception>
    public static uint[] Decode(string text)
    {
        var counts = new List<uint>(text.Length);
        int p = 0;
        while (p < text.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            int start = p;
            while (more)
            {
                if (p >= text.Length)
                    throw new FormatException($"RLE string ends inside the value that starts at character {start}.");
                int c = text[p] - 48;
                if (c < 0 || c > 63)
                    throw new FormatException($"RLE string has '{text[p]}' at character {p}; only '0' (48) to 'o' (111) occur.");
                if (k >= 7)
                    throw new FormatException($"RLE string value at character {start} is longer than 32 bits.");
                x |= (long)(c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (counts.Count > 2) x += counts[^2];
            if (x < 0 || x > uint.MaxValue)
                throw new FormatException($"RLE string value at character {start} decodes to count {x}, outside 0..{uint.MaxValue}.");
            counts.Add((uint)x);
        }
        return counts.ToArray();
    }
}
