using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;

namespace Crate.SegmentService.Tests;

/// <summary>
/// The budget of decoded pixels in flight, stepped by hand (which request holds what, who waits, in which order), and
/// the service under a budget of one pixel: every request still answered, nothing held afterwards.
/// </summary>
[TestClass]
public sealed class DecodedPixelBudgetTests
{
    [TestMethod]
    public async Task RequestsWaitFirstComeFirstServedUntilTheirPixelsFit()
    {
        var budget = new DecodedPixelBudget(100);
        IDisposable first = await budget.AcquireAsync(60, CancellationToken.None);
        Task<IDisposable> second = budget.AcquireAsync(60, CancellationToken.None);
        // 10 would fit beside the first 60, but the 60 before it waits: no overtaking.
        Task<IDisposable> third = budget.AcquireAsync(10, CancellationToken.None);
        Assert.IsFalse(second.IsCompleted);
        Assert.IsFalse(third.IsCompleted);
        Assert.AreEqual(60, budget.InFlight);
        first.Dispose();
        first.Dispose(); // a second dispose gives nothing back twice
        IDisposable secondLease = await second, thirdLease = await third;
        Assert.AreEqual(70, budget.InFlight);
        // Larger than the whole budget: waits for everything to be given back, then takes all of it.
        Task<IDisposable> huge = budget.AcquireAsync(1000, CancellationToken.None);
        secondLease.Dispose();
        Assert.IsFalse(huge.IsCompleted);
        thirdLease.Dispose();
        IDisposable hugeLease = await huge;
        Assert.AreEqual(100, budget.InFlight);
        hugeLease.Dispose();
        Assert.AreEqual(0, budget.InFlight);
    }

    [TestMethod]
    public async Task ACancelledWaitTakesNothingAndBlocksNoOne()
    {
        var budget = new DecodedPixelBudget(100);
        IDisposable held = await budget.AcquireAsync(80, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        Task<IDisposable> cancelled = budget.AcquireAsync(50, cancel.Token);
        Task<IDisposable> behind = budget.AcquireAsync(20, CancellationToken.None);
        await cancel.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => cancelled);
        // The 20 behind the cancelled 50 fits beside the 80 once the 50 has left the queue.
        IDisposable behindLease = await behind;
        Assert.AreEqual(100, budget.InFlight);
        held.Dispose();
        behindLease.Dispose();
        Assert.AreEqual(0, budget.InFlight);
    }

    [TestMethod]
    public async Task MemoryIsReturnedAfterEachLargeImageOnly()
    {
        var budget = new DecodedPixelBudget(4 * DecodedPixelBudget.LargeImagePixels);
        IDisposable small = await budget.AcquireAsync(128 * 128, CancellationToken.None);
        small.Dispose();
        Assert.AreEqual(0, budget.MemoryReturns, "a small image");
        IDisposable large = await budget.AcquireAsync(DecodedPixelBudget.LargeImagePixels, CancellationToken.None);
        IDisposable other = await budget.AcquireAsync(DecodedPixelBudget.LargeImagePixels - 1, CancellationToken.None);
        other.Dispose();
        Assert.AreEqual(0, budget.MemoryReturns, "an image one pixel under the threshold");
        large.Dispose();
        Assert.AreEqual(1, budget.MemoryReturns);
    }

    [TestMethod]
    public async Task UnderABudgetOfOnePixelEveryRequestIsAnsweredOneAtATime()
    {
        string pipeline = Path.Combine(Path.GetTempPath(), $"crate-service-budget-{Guid.NewGuid():N}.zip");
        ServedFixtures.WritePipeline(pipeline);
        try
        {
            using var host = new ServiceHost(new Dictionary<string, string?>
            {
                ["Segmentation:ModelPath"] = pipeline,
                ["Segmentation:MaxDecodedPixelsInFlight"] = "1",
            });
            HttpClient client = host.Start();
            byte[][] images = ServedFixtures.Pngs(4, seed: 13);
            using var oracle = new PipelineOracle(pipeline);
            var expected = images.Select(oracle.Predict).ToArray();
            string[] answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(k => Task.Run(async () =>
            {
                using var body = new ByteArrayContent(images[k % images.Length]);
                body.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                using HttpResponseMessage response = await client.PostAsync("/segment", body);
                string text = await response.Content.ReadAsStringAsync();
                Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
                return text;
            })));
            for (int k = 0; k < answers.Length; k++)
            {
                using var answer = System.Text.Json.JsonDocument.Parse(answers[k]);
                SegmentServiceTests.AssertSameAnswer(expected[k % images.Length], answer.RootElement, images[k % images.Length], $"request {k}");
            }
            Assert.AreEqual(0, host.Services.GetRequiredService<DecodedPixelBudget>().InFlight, "every lease was given back");
        }
        finally
        {
            File.Delete(pipeline);
        }
    }
}
