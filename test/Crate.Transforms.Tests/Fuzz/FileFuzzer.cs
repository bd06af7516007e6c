using System.Text;

namespace Crate.Transforms.Tests.Fuzz;

/// <summary>
/// Mutates a committed fixture file many ways from one seeded generator, hands each mutant to a reader, and sorts
/// what happens: read, refused with a named exception, or failed otherwise (any other exception, more than a per-file
/// time bound, more managed allocation than a bound). The mutations aim at what breaks readers: flipped bits,
/// truncation, inserted and deleted runs, and 1-, 2-, 4- and 8-byte fields overwritten with extreme values (lengths,
/// counts and sizes that claim gigabytes or go negative); for text, numbers replaced by extreme numbers and tokens.
/// </summary>
internal static class FileFuzzer
{
    /// <summary>What one mutant did to the reader.</summary>
    public sealed record Outcome(int Read, int Refused, IReadOnlyDictionary<string, int> Refusals, IReadOnlyList<string> Failures, long MostAllocated)
    {
        public int Total => Read + Refused + Failures.Count;

        public override string ToString() =>
            $"{Total} files: {Read} read, {Refused} refused ({string.Join(", ", Refusals.OrderByDescending(r => r.Value).Select(r => $"{r.Value}× {r.Key}"))}), " +
            $"{Failures.Count} failures; most managed allocation for one file {MostAllocated / 1024} KiB";
    }

    /// <summary>The most seconds one file may take: a guard against a hang, far above what any file needs.</summary>
    public static readonly TimeSpan PerFileBound = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Reads <paramref name="count"/> mutants of the seed files, each written to the path <paramref name="place"/> gives for
    /// the mutant's number and its seed file's index (a file of a tree, for a reader of trees), by <paramref name="read"/>. An exception whose type is in
    /// <paramref name="named"/> (or derives from one) is a refusal; anything else, a hang or an allocation over
    /// <paramref name="allocationBound"/> bytes (or 4× what the first seed costs, if more) is a failure, named with the mutation that caused it.
    /// <paramref name="repair"/>, when given, makes half the mutants' checksums right again.
    /// </summary>
    public static Outcome Run(IReadOnlyList<byte[]> seeds, int count, int seed, Func<int, int, string> place, Action<string> read,
        Type[] named, long allocationBound, bool text = false, Func<byte[], byte[]>? repair = null)
    {
        // A mutant may cost a few times what its seed costs, never what a forged length claims: the bound is the larger of
        // the given floor and 4× the allocation of reading the first seed file unmutated.
        File.WriteAllBytes(place(-1, 0), seeds[0]);
        long baseline = GC.GetAllocatedBytesForCurrentThread();
        read(place(-1, 0));
        baseline = GC.GetAllocatedBytesForCurrentThread() - baseline;
        allocationBound = Math.Max(allocationBound, 4 * baseline);
        var random = new Random(seed);
        int good = 0, refused = 0;
        var refusals = new Dictionary<string, int>();
        var failures = new List<string>();
        long most = 0;
        for (int i = 0; i < count; i++)
        {
            int which = random.Next(seeds.Count);
            (string how, byte[] bytes) = text && random.Next(2) == 0 ? MutateText(random, seeds[which]) : Mutate(random, seeds[which]);
            if (repair is not null && random.Next(2) == 0)
            {
                // Half the mutants get their checksums made right again, so that they reach past the checks into the decoder.
                bytes = repair(bytes);
                how += ", checksums repaired";
            }
            string path = place(i, which);
            File.WriteAllBytes(path, bytes);
            string name = $"mutant {i} (seed file {which}, {how})";
            long allocated = 0;
            Exception? thrown = null;
            var task = Task.Factory.StartNew(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    read(path);
                }
                catch (Exception e)
                {
                    thrown = e;
                }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!task.Wait(PerFileBound))
            {
                failures.Add($"{name}: still reading after {PerFileBound.TotalSeconds} s");
                break;
            }
            most = Math.Max(most, allocated);
            if (allocated > allocationBound)
                failures.Add($"{name}: allocated {allocated} bytes (bound {allocationBound}); it ended in {thrown?.GetType().Name ?? "a read"}");
            else if (thrown is null)
                good++;
            else if (named.Any(t => t.IsInstanceOfType(thrown)))
            {
                refused++;
                refusals[thrown.GetType().Name] = refusals.GetValueOrDefault(thrown.GetType().Name) + 1;
                if (string.IsNullOrWhiteSpace(thrown.Message)) failures.Add($"{name}: {thrown.GetType().Name} without a message");
            }
            else
                failures.Add($"{name}: {thrown.GetType().Name}: {thrown.Message}\n{thrown.StackTrace}");
        }
        return new Outcome(good, refused, refusals, failures, most);
    }

    /// <summary>Asserts that every mutant was read or refused by name, and that both happened (or the fuzzing proved little).</summary>
    public static void AssertNamedOnly(Outcome outcome, int count, string format)
    {
        Console.WriteLine($"{format}: {outcome}");
        Assert.AreEqual(count, outcome.Total, $"{format}: {outcome}");
        Assert.IsEmpty(outcome.Failures, $"{format}: {outcome}\n{string.Join("\n", outcome.Failures.Take(5))}");
        Assert.IsGreaterThan(0, outcome.Refused, $"{format}: no mutant was refused; {outcome}");
    }

    private static readonly long[] Extremes =
        [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF, -1, 1L << 40];

    private static (string How, byte[] Bytes) Mutate(Random random, byte[] original)
    {
        byte[] bytes = (byte[])original.Clone();
        switch (random.Next(7))
        {
            case 0:
                {
                    int flips = 1 + random.Next(16);
                    for (int k = 0; k < flips; k++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    return ($"{flips} bits flipped", bytes);
                }
            case 1:
                {
                    int length = random.Next(bytes.Length);
                    return ($"cut to {length} bytes", bytes[..length]);
                }
            case 2:
                {
                    int at = random.Next(bytes.Length + 1);
                    var inserted = new byte[1 + random.Next(64)];
                    random.NextBytes(inserted);
                    return ($"{inserted.Length} bytes inserted at {at}", [.. bytes[..at], .. inserted, .. bytes[at..]]);
                }
            case 3:
                {
                    int at = random.Next(bytes.Length), length = Math.Min(1 + random.Next(256), bytes.Length - at);
                    return ($"{length} bytes deleted at {at}", [.. bytes[..at], .. bytes[(at + length)..]]);
                }
            case 4:
                {
                    int at = random.Next(bytes.Length), length = Math.Min(1 + random.Next(256), bytes.Length - at);
                    Array.Fill(bytes, random.Next(2) == 0 ? (byte)0 : (byte)0xFF, at, length);
                    return ($"{length} bytes filled at {at}", bytes);
                }
            default:
                {
                    // A field overwritten with an extreme value, in either byte order: the lengths and counts of a header.
                    int width = new[] { 1, 2, 4, 8 }[random.Next(4)];
                    int at = random.Next(Math.Max(1, bytes.Length - width + 1));
                    long value = Extremes[random.Next(Extremes.Length)];
                    bool bigEndian = random.Next(2) == 0;
                    for (int k = 0; k < width && at + k < bytes.Length; k++)
                    {
                        int shift = 8 * (bigEndian ? width - 1 - k : k);
                        bytes[at + k] = (byte)(value >> shift);
                    }
                    return ($"{width}-byte field at {at} set to {value} ({(bigEndian ? "big" : "little")}-endian)", bytes);
                }
        }
    }

    private static readonly string[] Tokens =
        ["-1", "0", "2147483648", "-2147483649", "1e309", "99999999999999999999", "1.5", "null", "true", "\"x\"", "[]", "{}", "NaN", "\"\\ud800\""];

    /// <summary>A number or value of a JSON text replaced by an extreme one, or a bracket or quote removed.</summary>
    private static (string How, byte[] Bytes) MutateText(Random random, byte[] original)
    {
        string text = Encoding.UTF8.GetString(original);
        var builder = new StringBuilder(text);
        int mutations = 1 + random.Next(3);
        var done = new List<string>();
        for (int k = 0; k < mutations; k++)
        {
            int at = random.Next(builder.Length);
            if (random.Next(3) == 0)
            {
                char removed = builder[at];
                builder.Remove(at, 1);
                done.Add($"'{removed}' removed at {at}");
                continue;
            }
            // Find the value token starting at or after 'at' (a number, true/false/null, a string) and replace it.
            int start = at;
            while (start < builder.Length && !(char.IsDigit(builder[start]) || builder[start] is '-' or '"' or 't' or 'f' or 'n')) start++;
            if (start >= builder.Length) continue;
            int end = start + 1;
            if (builder[start] == '"')
                while (end < builder.Length && builder[end - 1] != '"' || end == start + 1) end++;
            else
                while (end < builder.Length && (char.IsLetterOrDigit(builder[end]) || builder[end] is '.' or '-' or '+')) end++;
            end = Math.Min(end, builder.Length);
            string token = Tokens[random.Next(Tokens.Length)];
            done.Add($"'{builder.ToString(start, end - start)}' at {start} replaced by {token}");
            builder.Remove(start, end - start).Insert(start, token);
        }
        return (string.Join("; ", done), Encoding.UTF8.GetBytes(builder.ToString()));
    }
}
