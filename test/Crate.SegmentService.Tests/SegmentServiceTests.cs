using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Crate.Testing;
using Crate.Transforms.Evaluation;
using Crate.Transforms.MLNet;
using Crate.Transforms.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.Data;

namespace Crate.SegmentService.Tests;

/// <summary>
/// The service over the loopback, serving the tiny pipeline of <see cref="ServedFixtures"/>, checked against the
/// single-threaded oracle (<see cref="PipelineOracle"/>: the same file loaded on its own and run through ML.NET's
/// batch path): concurrent requests, the wire format of masks and boxes, bad uploads, the overlay.
/// </summary>
[TestClass]
public sealed class SegmentServiceTests
{
    private const int Concurrency = 4;
    private static string pipelinePath = "";
    private static ServiceHost host = null!;
    private static HttpClient client = null!;
    private static PipelineOracle oracle = null!;

    [ClassInitialize]
    public static void StartService(TestContext _)
    {
        pipelinePath = Path.Combine(Path.GetTempPath(), $"crate-service-tests-{Guid.NewGuid():N}.zip");
        ServedFixtures.WritePipeline(pipelinePath);
        host = new ServiceHost(new Dictionary<string, string?>
        {
            ["Segmentation:ModelPath"] = pipelinePath,
            ["Segmentation:MaxConcurrentPredictions"] = Concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        client = host.Start();
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
    public async Task ConcurrentRequestsGiveTheSingleThreadedAnswers()
    {
        byte[][] images = ServedFixtures.Pngs(8, seed: 3);
        var expected = images.Select(oracle.Predict).ToArray();
        // 16 clients at once, each posting every image once in its own order: 128 requests, 4 predicting at a time.
        const int Clients = 16;
        JsonElement[][] answers = await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            var mine = new JsonElement[images.Length];
            for (int k = 0; k < images.Length; k++)
            {
                int i = (k + c) % images.Length;
                mine[i] = await SegmentJson(images[i]);
            }
            return mine;
        })));
        for (int c = 0; c < Clients; c++)
            for (int i = 0; i < images.Length; i++)
                AssertSameAnswer(expected[i], answers[c][i], images[i], $"client {c}, image {i}");
        var engines = host.Services.GetRequiredService<PredictionEnginePool<ImageInput, SegmentationRow>>();
        Assert.IsLessThanOrEqualTo(Concurrency, engines.EnginesCreated, "The pool never holds more engines than predictions may run at once.");
    }

    [TestMethod]
    public async Task TheSameImageFromManyThreadsGetsOneAnswer()
    {
        byte[] image = ServedFixtures.Pngs(3, seed: 11)[2];
        var expected = oracle.Predict(image);
        JsonElement[] answers = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(() => SegmentJson(image))));
        for (int i = 0; i < answers.Length; i++) AssertSameAnswer(expected, answers[i], image, $"request {i}");
    }

    [TestMethod]
    public async Task JsonMasksDecodeToThePipelinesMasksAtTheImagesSize()
    {
        // 24 rows × 40 columns: "size" must be [h, w] and the runs column-major, or the decoded masks come out transposed.
        byte[] image = ServedFixtures.Pngs(2, seed: 5)[1];
        var expected = oracle.Predict(image);
        Assert.IsGreaterThan(0, expected.Objects.ObjectCount, "The fixture must have objects for this test to mean anything.");
        JsonElement answer = await SegmentJson(image);
        Assert.AreEqual(24, answer.GetProperty("height").GetInt32());
        Assert.AreEqual(40, answer.GetProperty("width").GetInt32());
        JsonElement[] objects = answer.GetProperty("objects").EnumerateArray().ToArray();
        IReadOnlyList<MaskCutDetection> found = expected.Objects.Objects();
        Assert.HasCount(found.Count, objects);
        for (int k = 0; k < found.Count; k++)
        {
            JsonElement rle = objects[k].GetProperty("segmentation");
            CollectionAssert.AreEqual(new[] { 24, 40 }, rle.GetProperty("size").EnumerateArray().Select(v => v.GetInt32()).ToArray());
            BinaryMask decoded = RleMask.FromCompressedString(rle.GetProperty("counts").GetString()!, 24, 40).ToPixels();
            CollectionAssert.AreEqual(found[k].Mask.Cells.ToArray(), decoded.Cells.ToArray(), $"object {k}'s mask");
            Assert.AreEqual(found[k].Mask.Area, objects[k].GetProperty("area").GetInt64(), $"object {k}'s area");
            // COCO's bbox is the box around the mask: computed here from the decoded pixels, by hand.
            int[] rows = Enumerable.Range(0, 24).Where(y => Enumerable.Range(0, 40).Any(x => decoded[y, x])).ToArray();
            int[] columns = Enumerable.Range(0, 40).Where(x => Enumerable.Range(0, 24).Any(y => decoded[y, x])).ToArray();
            float[] box = [columns[0], rows[0], columns[^1] - columns[0] + 1, rows[^1] - rows[0] + 1];
            CollectionAssert.AreEqual(box, objects[k].GetProperty("bbox").EnumerateArray().Select(v => v.GetSingle()).ToArray(), $"object {k}'s bbox");
        }
    }

    [TestMethod]
    public async Task MultipartAndRawUploadsGetOneAnswer()
    {
        byte[] image = ServedFixtures.Pngs(1, seed: 8)[0];
        var expected = oracle.Predict(image);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "shape.png");
        using HttpResponseMessage multipart = await client.PostAsync("/segment", form);
        AssertSameAnswer(expected, await Json(multipart, HttpStatusCode.OK), image, "multipart");
        // application/octet-stream: the bytes decide the format.
        using HttpResponseMessage octets = await client.PostAsync("/segment", Body(image, "application/octet-stream"));
        AssertSameAnswer(expected, await Json(octets, HttpStatusCode.OK), image, "octet-stream");
    }

    [TestMethod]
    public async Task BadUploadsGetA4xxWithTheReasonAndTheServiceStaysHealthy()
    {
        byte[] good = ServedFixtures.Pngs(2, seed: 21)[0];
        var expected = oracle.Predict(good);
        byte[] fiftyMegabytes = new byte[50_000_000];
        new Random(1).NextBytes(fiftyMegabytes);
        byte[] tinyImage = ServedFixtures.Png(MLImage.CreateFromPixels(4, 4, MLPixelFormat.Rgba32, new byte[4 * 4 * 4]));
        var cases = new (string Name, Func<HttpContent> Content, HttpStatusCode Status, string Reason)[]
        {
            ("text body", () => new StringContent("hello", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType, "'text/plain' is not accepted"),
            ("JSON body", () => new StringContent("{\"image\": 1}", Encoding.UTF8, "application/json"), HttpStatusCode.UnsupportedMediaType, "'application/json' is not accepted"),
            ("no content type", () => new ByteArrayContent(good), HttpStatusCode.UnsupportedMediaType, "no Content-Type"),
            ("not an image", () => Body(Encoding.UTF8.GetBytes("this is not a picture"), "image/png"), HttpStatusCode.BadRequest, "not an image"),
            ("zero bytes", () => Body([], "image/png"), HttpStatusCode.BadRequest, "zero bytes"),
            ("50 MB with a length", () => Body(fiftyMegabytes, "image/png"), HttpStatusCode.RequestEntityTooLarge, "at most 16777216 bytes"),
            ("50 MB chunked", () => Chunked(fiftyMegabytes, "image/jpeg"), HttpStatusCode.RequestEntityTooLarge, "at most 16777216 bytes"),
            ("form with a text file", () => Form(Encoding.UTF8.GetBytes("hello"), "text/plain"), HttpStatusCode.UnsupportedMediaType, "'text/plain'"),
            ("form without a file", () => new MultipartFormDataContent { { new StringContent("x"), "caption" } }, HttpStatusCode.BadRequest, "no file"),
            ("form with zero bytes", () => Form([], "image/png"), HttpStatusCode.BadRequest, "zero bytes"),
            ("form of 50 MB", () => Form(fiftyMegabytes, "image/png"), HttpStatusCode.RequestEntityTooLarge, "at most 16777216 bytes"),
            ("form field of another name", () => TwoFileForm(good), HttpStatusCode.BadRequest, "none is named 'image'"),
            ("30000×30000 pixels", () => Body(PngHeaderOnly(30000, 30000), "image/png"), HttpStatusCode.UnprocessableEntity, "at most 16777216"),
            ("smaller than a patch", () => Body(tinyImage, "image/png"), HttpStatusCode.UnprocessableEntity, "at least 8×8"),
        };
        foreach ((string name, Func<HttpContent> content, HttpStatusCode status, string reason) in cases)
        {
            using HttpContent body = content();
            using HttpResponseMessage response = await client.PostAsync("/segment", body);
            Assert.AreEqual(status, response.StatusCode, name);
            Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType, name);
            using JsonDocument problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.AreEqual((int)status, problem.RootElement.GetProperty("status").GetInt32(), name);
            StringAssert.Contains(problem.RootElement.GetProperty("detail").GetString(), reason, StringComparison.OrdinalIgnoreCase, name);
            // Healthy after each: the next good request gets the oracle's answer.
            AssertSameAnswer(expected, await SegmentJson(good), good, $"the good request after '{name}'");
        }
        using HttpResponseMessage health = await client.GetAsync("/health");
        Assert.AreEqual(HttpStatusCode.OK, health.StatusCode);
        Assert.AreEqual("Healthy", await health.Content.ReadAsStringAsync());
    }

    [TestMethod]
    public async Task OverlayIsTheImageWithTheObjectsDrawnOverIt()
    {
        byte[] png = ServedFixtures.Pngs(3, seed: 5)[1];
        var expected = oracle.Predict(png);
        IReadOnlyList<MaskCutDetection> found = expected.Objects.Objects();
        Assert.IsGreaterThan(0, found.Count, "The fixture must have objects for this test to mean anything.");
        using HttpResponseMessage response = await client.PostAsync("/segment/overlay", Body(png, "image/png"));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("image/png", response.Content.Headers.ContentType?.MediaType);
        int best = Array.IndexOf(expected.Probabilities, expected.Probabilities.Max());
        Assert.AreEqual(ServedFixtures.Classes[best], response.Headers.GetValues("X-Crate-Class").Single());
        Assert.AreEqual(found.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Crate-Objects").Single());

        using MLImage overlay = MLImage.CreateFromStream(await response.Content.ReadAsStreamAsync());
        using MLImage original = MLImage.CreateFromStream(new MemoryStream(png));
        Assert.AreEqual(original.Width, overlay.Width);
        Assert.AreEqual(original.Height, overlay.Height);
        ImagePixels before = ImageColumn.FromImage(original, "original", 0), after = ImageColumn.FromImage(overlay, "overlay", 0);
        int plane = before.Height * before.Width, changedInMasks = 0;
        for (int y = 0; y < before.Height; y++)
            for (int x = 0; x < before.Width; x++)
            {
                int cell = y * before.Width + x;
                bool differs = Enumerable.Range(0, 3).Any(c => before.Pixels[c * plane + cell] != after.Pixels[c * plane + cell]);
                bool inMask = found.Any(o => o.Mask[y, x]);
                bool onBoxEdge = found.Any(o => (x == o.X0 || x == o.X1) && y >= o.Y0 && y <= o.Y1 || (y == o.Y0 || y == o.Y1) && x >= o.X0 && x <= o.X1);
                if (!inMask && !onBoxEdge) Assert.IsFalse(differs, $"pixel ({x}, {y}) lies outside every mask and box edge but was changed");
                if (inMask && differs) changedInMasks++;
            }
        Assert.AreEqual(found.Sum(o => o.Mask.Area), changedInMasks, "every mask pixel is tinted");
    }

    [TestMethod]
    public async Task ModelRouteDescribesWhatIsServed()
    {
        using HttpResponseMessage response = await client.GetAsync("/model");
        JsonElement model = await Json(response, HttpStatusCode.OK);
        CollectionAssert.AreEqual(ServedFixtures.Classes, model.GetProperty("classes").EnumerateArray().Select(c => c.GetString()).ToArray());
        Assert.AreEqual(8, model.GetProperty("patchSize").GetInt32());
        Assert.AreEqual(64, model.GetProperty("maskCut").GetProperty("input").GetProperty("height").GetInt32());
        Assert.AreEqual(Concurrency, model.GetProperty("maxConcurrentPredictions").GetInt32());
        Assert.AreEqual(Path.GetFullPath(pipelinePath), model.GetProperty("source").GetString());
    }

    /// <summary>The response must be the oracle's answer, bit for bit: probabilities, class, scores, boxes and masks.</summary>
    internal static void AssertSameAnswer((float[] Probabilities, MaskCutPrediction Objects) expected, JsonElement answer, byte[] png, string what)
    {
        using MLImage image = MLImage.CreateFromStream(new MemoryStream(png));
        Assert.AreEqual(image.Height, answer.GetProperty("height").GetInt32(), what);
        Assert.AreEqual(image.Width, answer.GetProperty("width").GetInt32(), what);
        float[] probabilities = answer.GetProperty("probabilities").EnumerateArray().Select(p => p.GetProperty("probability").GetSingle()).ToArray();
        NumericAssert.AreAllClose(expected.Probabilities.Select(p => (double)p).ToArray(), probabilities.Select(p => (double)p).ToArray(), Tolerance.Exact,
            $"{what}: probabilities");
        CollectionAssert.AreEqual(ServedFixtures.Classes,
            answer.GetProperty("probabilities").EnumerateArray().Select(p => p.GetProperty("label").GetString()).ToArray(), what);
        int best = Array.IndexOf(expected.Probabilities, expected.Probabilities.Max());
        Assert.AreEqual(ServedFixtures.Classes[best], answer.GetProperty("class").GetProperty("label").GetString(), what);
        Assert.AreEqual(expected.Probabilities[best], answer.GetProperty("class").GetProperty("probability").GetSingle(), what);

        IReadOnlyList<MaskCutDetection> found = expected.Objects.Objects();
        JsonElement[] objects = answer.GetProperty("objects").EnumerateArray().ToArray();
        Assert.HasCount(found.Count, objects, what);
        for (int k = 0; k < found.Count; k++)
        {
            MaskCutDetection truth = found[k];
            Assert.AreEqual(truth.Score, objects[k].GetProperty("score").GetSingle(), $"{what}: object {k}'s score");
            CollectionAssert.AreEqual(new[] { truth.X0, truth.Y0, truth.X1 - truth.X0 + 1, truth.Y1 - truth.Y0 + 1 },
                objects[k].GetProperty("bbox").EnumerateArray().Select(v => v.GetSingle()).ToArray(), $"{what}: object {k}'s bbox");
            JsonElement rle = objects[k].GetProperty("segmentation");
            BinaryMask mask = RleMask.FromCompressedString(rle.GetProperty("counts").GetString()!, image.Height, image.Width).ToPixels();
            CollectionAssert.AreEqual(truth.Mask.Cells.ToArray(), mask.Cells.ToArray(), $"{what}: object {k}'s mask");
        }
    }

    private static async Task<JsonElement> SegmentJson(byte[] png)
    {
        using HttpResponseMessage response = await client.PostAsync("/segment", Body(png, "image/png"));
        return await Json(response, HttpStatusCode.OK);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, response.StatusCode, text);
        using JsonDocument document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static ByteArrayContent Body(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }

    /// <summary>A body sent without a Content-Length (chunked), so the server learns its size only by reading it.</summary>
    private static StreamContent Chunked(byte[] bytes, string contentType)
    {
        var content = new StreamContent(new UnknownLengthStream(bytes));
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }

    private static MultipartFormDataContent Form(byte[] bytes, string contentType) => new() { { Body(bytes, contentType), "image", "upload.bin" } };

    private static MultipartFormDataContent TwoFileForm(byte[] png) => new()
    {
        { Body(png, "image/png"), "picture", "a.png" },
        { Body(png, "image/png"), "photo", "b.png" },
    };

    /// <summary>The start of a PNG of the given size: the signature, its IHDR chunk and an IDAT chunk holding the first
    /// row (all zeros, deflated to a few hundred bytes); the rest is missing. A small file that claims gigabytes of
    /// pixels: the service must refuse it from the header, before decoding.</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;  // bit depth
        header[9] = 2;  // RGB
        using var firstRow = new MemoryStream();
        using (var deflate = new System.IO.Compression.ZLibStream(firstRow, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
            deflate.Write(new byte[1 + 3 * width]);
        var file = new List<byte> { 137, 80, 78, 71, 13, 10, 26, 10 };
        void Chunk(string type, byte[] data)
        {
            var length = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
            byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
            var crc = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, PngChunkCrc(typed));
            file.AddRange([.. length, .. typed, .. crc]);
        }
        Chunk("IHDR", header);
        Chunk("IDAT", firstRow.ToArray());
        return file.ToArray();
    }

    /// <summary>PNG's chunk checksum (CRC-32, reflected polynomial 0xEDB88320, bit by bit as the PNG specification's annex gives it).</summary>
    private static uint PngChunkCrc(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A read-only stream that does not tell its length.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
    }
}
