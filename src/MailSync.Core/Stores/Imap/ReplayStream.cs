namespace MailSync.Core.Stores.Imap;

/// <summary>
/// A connection whose first bytes read are <paramref name="first"/> (a line already read from it,
/// handed on to the next reader), then whatever <see cref="Inner"/> reads; writes go to <see cref="Inner"/>.
/// </summary>
internal sealed class ReplayStream(byte[] first, Stream inner) : ConnectionStream
{
    private int _replayed;

    public Stream Inner => inner;


    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_replayed < first.Length)
            return Replay(buffer);
        return inner.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_replayed < first.Length)
            return ValueTask.FromResult(Replay(buffer.Span));
        return inner.ReadAsync(buffer, cancellationToken);
    }

    private int Replay(Span<byte> buffer)
    {
        var take = Math.Min(buffer.Length, first.Length - _replayed);
        first.AsSpan(_replayed, take).CopyTo(buffer);
        _replayed += take;
        return take;
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
