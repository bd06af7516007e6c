using Microsoft.AspNetCore.Http.Features;
using Microsoft.ML.Data;
using Microsoft.Net.Http.Headers;
using SkiaSharp;

namespace Crate.SegmentService;

/// <summary>An upload the service refuses: the HTTP status and a message for the client.</summary>
/// <param name="status">The 4xx status.</param>
/// <param name="title">A short summary (ProblemDetails' title).</param>
/// <param name="detail">What was wrong and what is accepted.</param>
public sealed class UploadRejectedException(int status, string title, string detail) : Exception(detail)
{
    /// <summary>The HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>A short summary.</summary>
    public string Title { get; } = title;
}

/// <summary>
/// Reads the image of a request: a raw body whose Content-Type is an image type (or application/octet-stream), or a
/// multipart/form-data form whose file field "image" (or only file) holds it. The size is checked before the body is
/// read where the client announces it, the format and pixel count from the file's header before decoding, and then
/// the image is decoded as ML.NET's LoadImages decodes files (MLImage).
/// </summary>
public static class ImageUpload
{
    /// <summary>The multipart field the image is read from (any single file part is accepted too).</summary>
    public const string FormField = "image";

    /// <summary>What a multipart envelope (boundaries, part headers) may add to <see cref="SegmentationServiceOptions.MaxUploadBytes"/>.</summary>
    public const long MultipartOverheadBytes = 64 << 10;

    /// <summary>A refused upload up to this many times the limit is drained, so that its client gets the 413 (see <see cref="ReadAsync"/>).</summary>
    public const int DrainFactor = 4;

    /// <summary>Content types accepted for a raw body or a multipart file part. The bytes decide the format:
    /// PNG, JPEG, BMP, GIF, WebP and ICO decode, whatever the declared image type.</summary>
    public static readonly IReadOnlyList<string> AcceptedImageTypes =
        ["image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp", "image/x-icon", "application/octet-stream"];

    /// <summary>
    /// Reads and checks the request's image, waits until its pixels fit <paramref name="budget"/>, and decodes it. The
    /// caller disposes the image, then the lease (which gives the pixels back) once the response is made.
    /// </summary>
    /// <exception cref="UploadRejectedException">The upload is refused; the status and message say why.</exception>
    public static async Task<(MLImage Image, IDisposable Lease)> ReadAsync(HttpRequest request, SegmentationServiceOptions options, int minSide,
        DecodedPixelBudget budget, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(budget);
        byte[] bytes = await ReadBytesAsync(request, options, cancellationToken).ConfigureAwait(false);
        (int width, int height) = CheckHeader(bytes, options, minSide);
        IDisposable lease = await budget.AcquireAsync((long)width * height, cancellationToken).ConfigureAwait(false);
        try
        {
            return (Decode(bytes, width, height), lease);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    private static async Task<byte[]> ReadBytesAsync(HttpRequest request, SegmentationServiceOptions options, CancellationToken cancellationToken)
    {
        long limit = options.MaxUploadBytes;
        string accepted = $"Send the image as the body with Content-Type {string.Join(", ", AcceptedImageTypes)}, " +
            $"or as multipart/form-data with a file field '{FormField}'.";
        if (string.IsNullOrEmpty(request.ContentType))
            throw new UploadRejectedException(StatusCodes.Status415UnsupportedMediaType, "No Content-Type", $"The request has no Content-Type. {accepted}");
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out MediaTypeHeaderValue? mediaType) || mediaType.MediaType.Value is not string type)
            throw new UploadRejectedException(StatusCodes.Status415UnsupportedMediaType, "Unreadable Content-Type",
                $"The Content-Type '{request.ContentType}' cannot be parsed. {accepted}");
        bool multipart = type.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (!multipart && !IsAccepted(type))
            throw new UploadRejectedException(StatusCodes.Status415UnsupportedMediaType, "Unsupported Content-Type",
                $"Content-Type '{type}' is not accepted. {accepted}");
        long envelope = multipart ? MultipartOverheadBytes : 0, drained = DrainFactor * (limit + envelope);
        // Kestrel reads and discards what a refused request has not sent yet, up to its body-size limit, before it takes
        // the connection's next request; past the limit it closes the connection, and a client still sending its body
        // (one that does not wait for "Expect: 100-continue") sees a broken pipe instead of the 413. So the server's limit
        // is set some way above the upload limit, which is enforced here while reading.
        if ((request.ContentLength is null || request.ContentLength <= drained) && request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
            bodyLimit.MaxRequestBodySize = drained;
        if (request.ContentLength > limit + envelope)
            throw TooLarge(request.ContentLength.Value, limit);
        try
        {
            return multipart
                ? await ReadFilePartAsync(request, limit, accepted, cancellationToken).ConfigureAwait(false)
                : await ReadBodyAsync(request.Body, limit, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(null, limit);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's word on a body that breaks HTTP's framing (a Content-Length longer than what came, a bad chunk).
            throw new UploadRejectedException(e.StatusCode is >= 400 and < 500 ? e.StatusCode : StatusCodes.Status400BadRequest,
                "Malformed request body", $"The request body cannot be read: {e.Message}");
        }
        catch (Exception e) when (multipart && e is InvalidDataException or IOException)
        {
            // What ASP.NET Core's multipart reader throws for a malformed form: InvalidDataException for a bad boundary,
            // part header or one past its length limits; IOException ("Unexpected end of Stream") for a body that ends
            // before its closing boundary (a wrong boundary, garbage, a truncated part). Only the body's length limit
            // means too large; its other limits (boundary, header and line lengths, part count) mean a malformed form.
            bool tooLarge = e.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase);
            throw tooLarge ? TooLarge(null, limit)
                : new UploadRejectedException(StatusCodes.Status400BadRequest, "Malformed multipart body", $"The multipart body cannot be read: {e.Message}");
        }
    }

    private static async Task<byte[]> ReadFilePartAsync(HttpRequest request, long limit, string accepted, CancellationToken cancellationToken)
    {
        IFormCollection form = await request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = limit + MultipartOverheadBytes },
            cancellationToken).ConfigureAwait(false);
        IFormFile? file = form.Files.GetFile(FormField) ?? (form.Files.Count == 1 ? form.Files[0] : null);
        if (file is null)
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "No image in the form",
                form.Files.Count == 0
                    ? $"The multipart form has no file. {accepted}"
                    : $"The multipart form has {form.Files.Count} files ({string.Join(", ", form.Files.Select(f => f.Name))}) and none is named '{FormField}'.");
        if (!string.IsNullOrEmpty(file.ContentType)
            && (!MediaTypeHeaderValue.TryParse(file.ContentType, out MediaTypeHeaderValue? partType) || partType.MediaType.Value is not string t || !IsAccepted(t)))
            throw new UploadRejectedException(StatusCodes.Status415UnsupportedMediaType, "Unsupported file type",
                $"The form's file '{file.Name}' has Content-Type '{file.ContentType}'. {accepted}");
        if (file.Length > limit) throw TooLarge(file.Length, limit);
        await using Stream stream = file.OpenReadStream();
        return await ReadBodyAsync(stream, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads at most <paramref name="limit"/> bytes; one more means the upload is too large.</summary>
    private static async Task<byte[]> ReadBodyAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(null, limit);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The image's width and height from its header, checked against the limits before anything is decoded.</summary>
    private static (int Width, int Height) CheckHeader(byte[] bytes, SegmentationServiceOptions options, int minSide)
    {
        if (bytes.Length == 0)
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Empty upload", "The upload has zero bytes; send an image file.");
        int width, height;
        using (SKData data = SKData.CreateCopy(bytes))
        using (SKCodec? codec = SKCodec.Create(data))
        {
            if (codec is null)
                throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Not an image",
                    $"The {bytes.Length} bytes uploaded are not an image the service can decode (PNG, JPEG, BMP, GIF, WebP or ICO).");
            (width, height) = (codec.Info.Width, codec.Info.Height);
        }
        if ((long)width * height > options.MaxImagePixels)
            throw new UploadRejectedException(StatusCodes.Status422UnprocessableEntity, "Image too large",
                $"The image is {width}×{height} = {(long)width * height} pixels; the service accepts at most {options.MaxImagePixels}.");
        if (width < minSide || height < minSide)
            throw new UploadRejectedException(StatusCodes.Status422UnprocessableEntity, "Image too small",
                $"The image is {width}×{height}; it needs at least {minSide}×{minSide} pixels (one patch of the network).");
        return (width, height);
    }

    private static MLImage Decode(byte[] bytes, int width, int height)
    {
        try
        {
            return MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IOException)
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Undecodable image",
                $"The {width}×{height} image's header reads, but its pixels cannot be decoded (a truncated or corrupt file?): {e.Message}");
        }
    }

    private static bool IsAccepted(string mediaType) => AcceptedImageTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase);

    private static UploadRejectedException TooLarge(long? length, long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, "Upload too large",
            (length is long n ? $"The upload is {n} bytes" : "The upload is larger than the limit") + $"; the service accepts images of at most {limit} bytes.");
}
