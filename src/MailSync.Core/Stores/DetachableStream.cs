namespace MailSync.Core.Stores;

/// <summary>
/// A stream a library owns and disposes, whose contents the caller may take over instead of
/// copying. MailKit disposes each body stream when the GetStreams callback returns; handing the
/// spool itself to the engine saves a copy of every message (DESIGN.md §3, bounded memory).
/// </summary>
public sealed class DetachableStream(Stream inner) : Stream
{
    private Stream? _inner = inner;

    private Stream Inner => _inner ?? throw new ObjectDisposedException(nameof(DetachableStream));

    /// <summary>Takes the underlying stream, rewound; disposing this wrapper no longer touches it.</summary>
    public Stream Detach()
    {
        var inner = Inner;
        _inner = null;
        inner.Position = 0;
        return inner;
    }

    public override bool CanRead => Inner.CanRead;

    public override bool CanSeek => Inner.CanSeek;

    public override bool CanWrite => Inner.CanWrite;

    public override long Length => Inner.Length;

    public override long Position
    {
        get => Inner.Position;
        set => Inner.Position = value;
    }

    public override void Flush() => Inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => Inner.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => Inner.Seek(offset, origin);

    public override void SetLength(long value) => Inner.SetLength(value);

    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => Inner.Write(buffer);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner?.Dispose();
            _inner = null;
        }

        base.Dispose(disposing);
    }
}
