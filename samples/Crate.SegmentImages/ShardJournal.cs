using System.Text.Json;
using Crate.Transforms.Evaluation;

namespace Crate.Samples.SegmentImages;

/// <summary>One MaskCut object of a journal line: its score and its mask at the image's size, as COCO's compressed RLE.</summary>
internal sealed record JournalObject(double Score, string Counts);

/// <summary>One image done: its file (relative to the image folder), name, COCO id, size and MaskCut objects.</summary>
internal sealed record JournalImage(string File, string Name, long Id, int Width, int Height, JournalObject[] Objects)
{
    /// <summary>The image's detections, as the single run makes them (masks at the image's size, each with its box).</summary>
    public IReadOnlyList<CocoDetection> Detections() => CocoDetections.FromMasks(Id,
        Objects.Select(o => RleMask.FromCompressedString(o.Counts, Height, Width).ToPixels()).ToList(), Objects.Select(o => o.Score).ToList());
}

/// <summary>
/// journal.jsonl: one line per image done, appended (and flushed to disk) after the image's pictures are in place.
/// A line is the unit of completion: a run killed before the line's newline reached the disk leaves a torn last line,
/// which the next run drops and redoes that image, overwriting its pictures; so a resumed shard neither loses nor
/// duplicates an image.
/// </summary>
internal sealed class ShardJournal : IDisposable
{
    public const string FileName = "journal.jsonl";

    private readonly FileStream stream;

    private ShardJournal(FileStream stream) => this.stream = stream;

    /// <summary>The images done in <paramref name="folder"/>'s journal, in the order done; a torn last line is left out.</summary>
    /// <exception cref="InvalidDataException">A line before the last is not an image record, or an image is there twice.</exception>
    public static List<JournalImage> Read(string folder) => Read(folder, out _);

    private static List<JournalImage> Read(string folder, out long completeLength)
    {
        string path = Path.Combine(folder, FileName);
        var done = new List<JournalImage>();
        completeLength = 0;
        if (!File.Exists(path)) return done;
        byte[] bytes = File.ReadAllBytes(path);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int start = 0, line = 1;
        while (start < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0) break; // torn: the run stopped before this line's end reached the disk
            JournalImage? image;
            try
            {
                image = JsonSerializer.Deserialize<JournalImage>(bytes.AsSpan(start, end - start));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{path}' line {line} is not an image record: {e.Message}", e);
            }
            if (image is null || image.File is null || image.Objects is null)
                throw new InvalidDataException($"'{path}' line {line} is not an image record.");
            if (!seen.Add(image.File)) throw new InvalidDataException($"'{path}' lists image '{image.File}' twice (line {line}).");
            done.Add(image);
            start = end + 1;
            line++;
            completeLength = start;
        }
        return done;
    }

    /// <summary>Opens <paramref name="folder"/>'s journal to append, cutting a torn last line off; returns the images already done.</summary>
    public static ShardJournal Open(string folder, out List<JournalImage> done)
    {
        done = Read(folder, out long completeLength);
        var stream = new FileStream(Path.Combine(folder, FileName), FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        stream.SetLength(completeLength);
        stream.Seek(0, SeekOrigin.End);
        return new ShardJournal(stream);
    }

    /// <summary>Records <paramref name="image"/> as done: one line, flushed to disk before this returns.</summary>
    public void Append(JournalImage image)
    {
        byte[] line = [.. JsonSerializer.SerializeToUtf8Bytes(image), (byte)'\n'];
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    public void Dispose() => stream.Dispose();

    /// <summary>
    /// The results files of <paramref name="images"/> in <paramref name="folder"/>, in the single run's order (ordinal
    /// order of the files): images.json (the COCO image list) and maskcut-results.json, each written atomically.
    /// </summary>
    public static int WriteResults(string folder, IEnumerable<JournalImage> images, string categoryName)
    {
        JournalImage[] ordered = images.OrderBy(i => i.File, StringComparer.Ordinal).ToArray();
        var list = new CocoDataset(ordered.Select(i => new CocoImage(i.Id, i.Width, i.Height, i.File)).ToList(), [], [new CocoCategory(1, categoryName)]);
        AtomicFile.WriteFile(Path.Combine(folder, ImagesFile), list.Save);
        List<CocoDetection> detections = ordered.SelectMany(i => i.Detections()).ToList();
        AtomicFile.WriteFile(Path.Combine(folder, ResultsFile), partial => CocoResultsFile.Write(partial, detections));
        return detections.Count;
    }

    public const string ImagesFile = "images.json";

    public const string ResultsFile = "maskcut-results.json";
}
