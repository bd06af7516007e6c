namespace Crate.Transforms.Checkpoints;

/// <summary>
/// A read-only pass-through stream that computes the CRC-32 (IEEE 802.3, the zip checksum) of what is read through
/// it. System.IO.Compression does not check the CRC of stored entries, and torch.save stores its entries
/// uncompressed, so without this a flipped byte in a checkpoint would load silently as a wrong weight.
/// </summary>
internal sealed class Crc32ReadStream : Stream
{
    private readonly Stream inner;
    private uint state = Crc32.Initial;

    /// <summary>Wraps <paramref name="inner"/>, which this stream disposes.</summary>
    public Crc32ReadStream(Stream inner) => this.inner = inner;

    /// <summary>The CRC-32 of the bytes read so far.</summary>
    public uint Crc => ~state;

    /// <summary>How many bytes were read so far.</summary>
    public long BytesRead { get; private set; }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        int read = inner.Read(buffer);
        state = Crc32.Update(state, buffer[..read]);
        BytesRead += read;
        return read;
    }

    /// <inheritdoc />
    public override void Flush() { }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
