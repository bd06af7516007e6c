using Microsoft.Extensions.Options;
using Microsoft.ML.Data;
using Engines = Crate.SegmentService.PredictionEnginePool<Crate.SegmentService.ImageInput, Crate.SegmentService.SegmentationRow>;

namespace Crate.SegmentService;

/// <summary>
/// The service's routes: <c>POST /segment</c> (JSON), <c>POST /segment/overlay</c> (PNG), <c>GET /model</c> and
/// <c>GET /health</c>. Refused uploads get a ProblemDetails body (RFC 9457) with the status and the reason.
/// </summary>
public static class SegmentEndpoints
{
    /// <summary>Maps the routes.</summary>
    public static WebApplication MapSegmentEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/segment", async (HttpRequest request, SegmentationModel model, Engines engines,
            IOptions<SegmentationServiceOptions> options, CancellationToken cancelled) =>
            await Predict(request, model, engines, options.Value, cancelled,
                (image, row) => Results.Json(SegmentationResponse.From(row, model.ClassNames, image.Height, image.Width))));
        app.MapPost("/segment/overlay", async (HttpRequest request, HttpResponse response, SegmentationModel model, Engines engines,
            IOptions<SegmentationServiceOptions> options, CancellationToken cancelled) =>
            await Predict(request, model, engines, options.Value, cancelled, (image, row) =>
            {
                // The class travels in headers, so the body stays a plain PNG (names are URL-encoded: headers are ASCII).
                int best = row.PredictedClass();
                response.Headers["X-Crate-Class"] = Uri.EscapeDataString(model.ClassNames[best]);
                response.Headers["X-Crate-Probability"] = row.Score[best].ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                response.Headers["X-Crate-Objects"] = row.ObjectCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.File(OverlayPicture.Png(image, row), "image/png");
            }));
        app.MapGet("/model", (SegmentationModel model) => Results.Json(model.Description));
        app.MapHealthChecks("/health");
        return app;
    }

    private static async Task<IResult> Predict(HttpRequest request, SegmentationModel model, Engines engines, SegmentationServiceOptions options,
        CancellationToken cancelled, Func<MLImage, SegmentationRow, IResult> respond)
    {
        MLImage image;
        IDisposable lease;
        DecodedPixelBudget budget = request.HttpContext.RequestServices.GetRequiredService<DecodedPixelBudget>();
        try
        {
            (image, lease) = await ImageUpload.ReadAsync(request, options, model.Description.Limits.MinImageSide, budget, cancelled);
        }
        catch (UploadRejectedException e)
        {
            return Results.Problem(e.Message, statusCode: e.Status, title: e.Title);
        }
        // The pixels go back after the image and everything made at its size (masks, the overlay) are done with.
        using (lease)
        using (image)
        {
            SegmentationRow row;
            try
            {
                row = await engines.PredictAsync(new ImageInput { Image = image }, cancelled);
            }
            catch (InvalidDataException e)
            {
                // The read-outs name what they cannot use in an image (a pixel format, a size).
                return Results.Problem(e.Message, statusCode: StatusCodes.Status422UnprocessableEntity, title: "Image not usable");
            }
            return respond(image, row);
        }
    }
}
