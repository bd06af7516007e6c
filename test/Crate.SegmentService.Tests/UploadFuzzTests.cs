using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Crate.SegmentService.Tests;

/// <summary>
/// The upload parser under mutated requests, over the loopback: raw bodies (good PNGs with flipped, cut, inserted or
/// replaced bytes, under accepted and other content types), multipart bodies (a good form cut short, with a wrong,
/// missing or overlong boundary, garbled part headers, bytes flipped anywhere in the envelope), and bodies that break
/// HTTP's framing (a Content-Length longer than what is sent). Every mutation is drawn from one seeded generator, so a
/// failure names a case that can be replayed. No response may be a 5xx; after each batch a good request must get the
/// single-threaded oracle's answer (<see cref="PipelineOracle"/>), so the service stays correct, not only up.
/// </summary>
[TestClass]
public sealed class UploadFuzzTests
{
    private const int Batches = 8, RawPerBatch = 70, MultipartPerBatch = 70, FramingPerBatch = 5;
    private static string pipelinePath = "";
    private static ServiceHost host = null!;
    private static HttpClient client = null!;
    private static PipelineOracle oracle = null!;

    [ClassInitialize]
    public static void StartService(TestContext _)
    {
        pipelinePath = Path.Combine(Path.GetTempPath(), $"crate-service-fuzz-{Guid.NewGuid():N}.zip");
        ServedFixtures.WritePipeline(pipelinePath);
        host = new ServiceHost(new Dictionary<string, string?>
        {
            ["Segmentation:ModelPath"] = pipelinePath,
            ["Segmentation:MaxConcurrentPredictions"] = "2",
            // Small enough that mutations cross it both ways; the 413 path is part of what is fuzzed.
            ["Segmentation:MaxUploadBytes"] = "20000",
        });
        client = host.Start();
        client.Timeout = TimeSpan.FromSeconds(30);
        oracle = new PipelineOracle(pipelinePath);
    }

    [ClassCleanup]
    public static void StopService()
    {
        client?.Dispose();
        host?.Dispose();
        oracle?.Dispose();
        File.Delete(pipelinePath);
    }

    [TestMethod]
    public async Task MutatedUploadsGetA4xxOrAnAnswerNeverA5xx()
    {
        byte[][] pngs = ServedFixtures.Pngs(4, seed: 31);
        byte[] good = pngs[0];
        var expected = oracle.Predict(good);
        var random = new Random(20261207);
        var statuses = new Dictionary<int, int>();
        var titles = new Dictionary<string, int>();
        int sent = 0;
        for (int batch = 0; batch < Batches; batch++)
        {
            var cases = new List<(string Name, Func<Task<(int Status, string? Title)>> Send)>();
            for (int i = 0; i < RawPerBatch; i++)
            {
                (string name, byte[] body, string? type) = RawCase(random, pngs[random.Next(pngs.Length)]);
                cases.Add(($"batch {batch} raw {i}: {name}", () => Post(body, type)));
            }
            for (int i = 0; i < MultipartPerBatch; i++)
            {
                (string name, byte[] body, string type) = MultipartCase(random, pngs[random.Next(pngs.Length)]);
                cases.Add(($"batch {batch} multipart {i}: {name}", () => Post(body, type)));
            }
            for (int i = 0; i < FramingPerBatch; i++)
            {
                byte[] body = pngs[random.Next(pngs.Length)];
                int cut = random.Next(body.Length);
                bool form = random.Next(2) == 0;
                cases.Add(($"batch {batch} framing {i}: Content-Length {body.Length}, {cut} bytes sent", () => ShortBody(body, cut, form)));
            }
            // Four clients at once, as concurrent uploads meet in the service.
            var results = new (int Status, string? Title)[cases.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, cases.Count), new ParallelOptions { MaxDegreeOfParallelism = 4 },
                async (k, _) => results[k] = await cases[k].Send());
            for (int k = 0; k < cases.Count; k++)
            {
                (int status, string? title) = results[k];
                Assert.IsLessThan(500, status, $"{cases[k].Name} got {status} ({title})");
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                if (title is not null) titles[title] = titles.GetValueOrDefault(title) + 1;
            }
            sent += cases.Count;
            using HttpResponseMessage response = await client.PostAsync("/segment", Body(good, "image/png"));
            string text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, $"the good request after batch {batch}: {text}");
            using JsonDocument answer = JsonDocument.Parse(text);
            SegmentServiceTests.AssertSameAnswer(expected, answer.RootElement, good, $"the good request after batch {batch}");
        }
        string summary = $"{sent} requests: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value}× {s.Key}")) +
            "; " + string.Join(", ", titles.OrderByDescending(t => t.Value).Select(t => $"{t.Value}× '{t.Key}'"));
        Console.WriteLine(summary);
        Assert.IsGreaterThanOrEqualTo(1000, sent);
        // A request whose connection was reset before its response came shows a 5xx only here: an unhandled exception is logged.
        Assert.IsEmpty(host.Errors, $"the service logged errors: {string.Join(" | ", host.Errors.Take(5))}");
        // The mix must reach the parser's paths, or the fuzzing proves little: answers, malformed forms, refusals
        // for size, undecodable bytes and framing errors.
        foreach (string title in new[] { "Malformed multipart body", "Not an image", "Upload too large" })
            Assert.IsGreaterThan(0, titles.GetValueOrDefault(title), $"no request was refused as '{title}'; {summary}");
        Assert.IsGreaterThan(0, statuses.GetValueOrDefault(200), $"no mutated request was answered; {summary}");
    }

    /// <summary>A raw body: a PNG mutated one of several ways, under a content type drawn from the accepted ones and a few others.</summary>
    private static (string Name, byte[] Body, string? Type) RawCase(Random random, byte[] png)
    {
        string?[] types = [.. ImageUpload.AcceptedImageTypes, "image/png; charset=utf-8", "text/plain", "image/", "multipart/mixed", "", null, ";;", "image/png; boundary=\"x"];
        string? type = types[random.Next(types.Length)];
        (string how, byte[] body) = random.Next(7) switch
        {
            0 => ("flipped bytes", Flip(random, png, 1 + random.Next(8))),
            1 => ("cut short", png[..random.Next(png.Length)]),
            2 => ("bytes inserted", Insert(random, png)),
            3 => ("random bytes", RandomBytes(random, random.Next(1, 4000))),
            4 => ("signature then random bytes", [.. png[..8], .. RandomBytes(random, random.Next(0, 2000))]),
            5 => ("header flipped", Flip(random, png, 1 + random.Next(4), limit: 40)),
            _ => ("padded past the limit", [.. png, .. new byte[20000]]),
        };
        return ($"{how} as '{type}'", body, type);
    }

    /// <summary>A multipart form holding a PNG, mutated one of several ways; the Content-Type may announce another boundary.</summary>
    private static (string Name, byte[] Body, string Type) MultipartCase(Random random, byte[] png)
    {
        const string Boundary = "fuzz-boundary-7MA4YWxkTrZu0gW";
        string partType = random.Next(4) == 0 ? "application/json" : "image/png";
        byte[] Form(string boundary, string disposition, byte[] file, bool close = true) =>
        [
            .. Encoding.ASCII.GetBytes($"--{boundary}\r\n{disposition}\r\nContent-Type: {partType}\r\n\r\n"),
            .. file,
            .. Encoding.ASCII.GetBytes(close ? $"\r\n--{boundary}--\r\n" : "\r\n"),
        ];
        const string Disposition = "Content-Disposition: form-data; name=\"image\"; filename=\"shape.png\"";
        byte[] good = Form(Boundary, Disposition, png);
        string type = $"multipart/form-data; boundary={Boundary}";
        (string how, byte[] body, string announced) = random.Next(12) switch
        {
            0 => ("cut short", good[..random.Next(good.Length)], type),
            1 => ("no closing boundary", Form(Boundary, Disposition, png, close: false), type),
            2 => ("another boundary announced", good, "multipart/form-data; boundary=another-boundary"),
            3 => ("no boundary announced", good, "multipart/form-data"),
            4 => ("an empty boundary", good, "multipart/form-data; boundary="),
            5 => ("a boundary over 70 characters", Form(new string('b', 90), Disposition, png), $"multipart/form-data; boundary={new string('b', 90)}"),
            6 => ("garbage", RandomBytes(random, random.Next(1, 3000)), type),
            7 => ("flipped bytes in the envelope", FlipEnvelope(random, good, png.Length), type),
            8 => ("a garbled part header", Form(Boundary, Garble(random, Disposition), png), type),
            9 => ("a part header of 20 KB", Form(Boundary, $"{Disposition}\r\nX-Long: {new string('h', 20000)}", png), type),
            10 => ("the file's bytes flipped", Form(Boundary, Disposition, Flip(random, png, 1 + random.Next(6))), type),
            _ => ("flipped bytes anywhere", Flip(random, good, 1 + random.Next(10)), type),
        };
        return ($"{how} ({partType} part)", body, announced);
    }

    private static async Task<(int Status, string? Title)> Post(byte[] body, string? type)
    {
        var content = new ByteArrayContent(body);
        if (type is not null && !content.Headers.TryAddWithoutValidation("Content-Type", type))
            throw new InvalidOperationException($"The test cannot send Content-Type '{type}'.");
        using (content)
        using (HttpResponseMessage response = await client.PostAsync("/segment", content))
        {
            string text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, Title(response, text));
        }
    }

    /// <summary>A request whose Content-Length announces the whole body, of which only <paramref name="sent"/> bytes come
    /// before the client stops sending: written on a socket, as HttpClient will not send it.</summary>
    private static async Task<(int Status, string? Title)> ShortBody(byte[] file, int sent, bool form)
    {
        const string Boundary = "short-body";
        byte[] body = form
            ? [.. Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"), .. file,
                .. Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n")]
            : file;
        string type = form ? $"multipart/form-data; boundary={Boundary}" : "image/png";
        Uri address = client.BaseAddress!;
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        NetworkStream stream = socket.GetStream();
        byte[] head = Encoding.ASCII.GetBytes(
            $"POST /segment HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: {type}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(head);
        await stream.WriteAsync(body.AsMemory(0, Math.Min(sent, body.Length - 1)));
        socket.Client.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string response;
        try
        {
            response = await reader.ReadToEndAsync();
        }
        catch (IOException)
        {
            // Kestrel resets a connection whose request ended before its announced length once it has answered it (or
            // without answering); what the application made of the request shows in the service's log of errors.
            return (0, null);
        }
        if (response.Length == 0) return (0, null);
        string[] statusLine = response[..response.IndexOf('\r', StringComparison.Ordinal)].Split(' ');
        int status = int.Parse(statusLine[1], System.Globalization.CultureInfo.InvariantCulture);
        int json = response.IndexOf("{\"", StringComparison.Ordinal);
        string? title = json < 0 ? null : JsonTitle(response[json..(response.LastIndexOf('}') + 1)]);
        return (status, title);
    }

    private static string? Title(HttpResponseMessage response, string text) =>
        response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonTitle(text) : null;

    private static string? JsonTitle(string json)
    {
        try
        {
            using JsonDocument problem = JsonDocument.Parse(json);
            return problem.RootElement.TryGetProperty("title", out JsonElement title) ? title.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static ByteArrayContent Body(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }

    private static byte[] Flip(Random random, byte[] bytes, int count, int? limit = null)
    {
        byte[] copy = (byte[])bytes.Clone();
        for (int k = 0; k < count; k++) copy[random.Next(Math.Min(limit ?? copy.Length, copy.Length))] ^= (byte)(1 << random.Next(8));
        return copy;
    }

    /// <summary>Flips bytes of the form's envelope only (the boundary lines and part headers), not of the file inside it.</summary>
    private static byte[] FlipEnvelope(Random random, byte[] form, int fileLength)
    {
        byte[] copy = (byte[])form.Clone();
        int envelope = form.Length - fileLength;
        int head = Array.IndexOf(form, (byte)0x89);
        for (int k = 0, count = 1 + random.Next(4); k < count; k++)
        {
            int e = random.Next(envelope);
            int at = e < head ? e : e + fileLength;
            copy[at] ^= (byte)(1 << random.Next(8));
        }
        return copy;
    }

    private static byte[] Insert(Random random, byte[] bytes)
    {
        int at = random.Next(bytes.Length + 1);
        return [.. bytes[..at], .. RandomBytes(random, random.Next(1, 64)), .. bytes[at..]];
    }

    private const string GarbleCharacters = "\"=;:\r\n \0x";

    private static string Garble(Random random, string header)
    {
        char[] chars = header.ToCharArray();
        for (int k = 0, count = 1 + random.Next(5); k < count; k++) chars[random.Next(chars.Length)] = GarbleCharacters[random.Next(GarbleCharacters.Length)];
        return new string(chars);
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
