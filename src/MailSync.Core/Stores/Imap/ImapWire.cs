namespace MailSync.Core.Stores.Imap;

/// <summary>
/// The stream MailKit's IMAP client talks through: the plain (or already decrypted) connection,
/// owned by MailSync so that what MailKit cannot do can be done at the protocol's byte level. Today:
/// read and write timeouts (MailKit applies its own only to sockets it opened itself), and turning
/// chosen APPEND literals into binary literals, <c>~{n}</c> (RFC 3516), which MailKit never sends.
/// Not thread-safe, like the client above it.
/// </summary>
/// <remarks>
/// Outgoing bytes are followed as IMAP's syntax defines them: a line that ends in <c>{n}</c> or
/// <c>{n+}</c> is followed by exactly n literal bytes, which are passed through unexamined (a
/// message body may contain anything, "{5}" included). While a literal header could still be
/// forming, its few bytes are held back, so the <c>~</c> can be put in front of it.
/// </remarks>
internal sealed class ImapWire(Stream inner) : ConnectionStream
{
    private const int MaxHeldBytes = 32;
    private readonly Queue<long> _binaryLiterals = new();
    private readonly byte[] _held = new byte[MaxHeldBytes];
    private int _heldCount;
    private long _literalLeft;
    private bool _broken;

    /// <summary>
    /// The next command's literal of exactly <paramref name="length"/> bytes (one per call, in the
    /// order they will be sent) goes as a binary literal. Cleared by <see cref="ClearBinaryLiterals"/>.
    /// </summary>
    public void ExpectBinaryLiteral(long length) => _binaryLiterals.Enqueue(length);

    /// <summary>Forgets literals announced by <see cref="ExpectBinaryLiteral"/> that were not sent (the command failed first).</summary>
    public void ClearBinaryLiterals() => _binaryLiterals.Clear();

    /// <summary>TLS is under this wire.</summary>
    public bool Encrypted { get; init; }

    /// <summary>Bounds what the server may send and how long a command may take (null: unbounded, as for tests of the write side alone).</summary>
    public ImapResponseGuard? Guard { get; init; }

    public override bool CanTimeout => true;
    public override int ReadTimeout { get; set; } = Timeout.Infinite;
    public override int WriteTimeout { get; set; } = Timeout.Infinite;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_broken, this);
        var (limit, command) = Limit(ReadTimeout);
        using var timeout = Deadline(limit, cancellationToken);
        try
        {
            var read = await inner.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
            Guard?.Read(buffer.Span[..read]);
            return read;
        }
        catch (ServerMisbehavedException ex)
        {
            // What follows in the stream cannot be trusted or framed: the connection is done.
            Break();
            throw Server is null ? ex : new ServerMisbehavedException($"{Server}: {ex.Message}");
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw command ? TooSlow(ex) : TimedOut("read", ReadTimeout, ex);
        }
        catch (OperationCanceledException)
        {
            // A read cancelled half-way leaves TLS and IMAP state unknown: the connection is done.
            Break();
            throw;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_broken, this);
        Guard?.Wrote(buffer.Length);
        var (limit, command) = Limit(WriteTimeout);
        using var timeout = Deadline(limit, cancellationToken);
        try
        {
            var pending = buffer;
            while (!pending.IsEmpty)
            {
                var step = Follow(pending.Span);
                if (step.Emit is not null)
                    await inner.WriteAsync(step.Emit, timeout.Token).ConfigureAwait(false);
                if (step.Pass > 0)
                    await inner.WriteAsync(pending[..step.Pass], timeout.Token).ConfigureAwait(false);
                pending = pending[step.Consumed..];
            }
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw command ? TooSlow(ex) : TimedOut("write", WriteTimeout, ex);
        }
        catch (OperationCanceledException)
        {
            Break();
            throw;
        }
    }

    /// <summary>One step through outgoing bytes: first <see cref="Emit"/>, then the first <see cref="Pass"/> input bytes unchanged; <see cref="Consumed"/> input bytes are dealt with (passed or held back).</summary>
    private readonly record struct Step(byte[]? Emit, int Pass, int Consumed);

    /// <summary>Decides what to do with the start of <paramref name="data"/>.</summary>
    private Step Follow(ReadOnlySpan<byte> data)
    {
        if (_literalLeft > 0)
        {
            var take = (int)Math.Min(_literalLeft, data.Length);
            _literalLeft -= take;
            return new Step(null, take, take);
        }

        if (_heldCount == 0)
        {
            // Command text: pass everything up to the next '{', where a literal header may start.
            var brace = data.IndexOf((byte)'{');
            if (brace != 0)
            {
                var pass = brace < 0 ? data.Length : brace;
                return new Step(null, pass, pass);
            }
        }

        // Inside a possible literal header: "{" digits ["+"] "}" CRLF.
        for (var i = 0; i < data.Length; i++)
        {
            var b = data[i];
            if (_heldCount == MaxHeldBytes || !Continues(b))
            {
                // Not a literal header after all: release what was held and go on from this byte.
                var released = _held.AsSpan(0, _heldCount).ToArray();
                _heldCount = 0;
                return new Step(released, 0, i);
            }

            _held[_heldCount++] = b;
            if (b == (byte)'\n')
                return new Step(CompleteHeader(), 0, i + 1);
        }

        return new Step(null, 0, data.Length);
    }

    /// <summary>Whether <paramref name="b"/> can extend the held bytes towards "{digits[+]}\r\n".</summary>
    private bool Continues(byte b)
    {
        if (_heldCount == 0)
            return b == (byte)'{';
        var last = _held[_heldCount - 1];
        return last switch
        {
            (byte)'{' => b is >= (byte)'0' and <= (byte)'9',
            >= (byte)'0' and <= (byte)'9' => b is >= (byte)'0' and <= (byte)'9' or (byte)'+' or (byte)'}',
            (byte)'+' => b == (byte)'}',
            (byte)'}' => b == (byte)'\r',
            (byte)'\r' => b == (byte)'\n',
            _ => false,
        };
    }

    /// <summary>A whole literal header is held: the literal follows; send the header, as binary if announced.</summary>
    private byte[] CompleteHeader()
    {
        var header = _held.AsSpan(0, _heldCount);
        _heldCount = 0;
        var digits = header[1..header.IndexOfAny((byte)'+', (byte)'}')];
        if (!long.TryParse(digits, out var length))
            return header.ToArray();
        _literalLeft = length;
        if (_binaryLiterals.Count == 0 || _binaryLiterals.Peek() != length)
            return header.ToArray();
        _binaryLiterals.Dequeue();
        return [(byte)'~', .. header];
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }

    private CancellationTokenSource Deadline(int milliseconds, CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (milliseconds > 0)
            source.CancelAfter(milliseconds);
        return source;
    }

    /// <summary>
    /// The tighter of the per-read (or per-write) timeout and what is left of the open command's
    /// deadline; whether the command's deadline is the tighter one. Past the deadline already: 1 ms.
    /// </summary>
    private (int Milliseconds, bool Command) Limit(int perCall)
    {
        if (Guard?.Remaining() is not { } remaining)
            return (perCall, false);
        var left = (int)Math.Clamp(remaining.TotalMilliseconds, 1, int.MaxValue);
        return perCall > 0 && perCall <= left ? (perCall, false) : (left, true);
    }

    private TimeoutException TooSlow(Exception cause)
    {
        Break();
        return new TimeoutException(Guard!.TooSlow(), cause);
    }

    /// <summary>The server, as errors name it (<c>user@host:port</c>).</summary>
    public string? Server { get; init; }

    private TimeoutException TimedOut(string what, int milliseconds, Exception cause)
    {
        Break();
        return new TimeoutException($"no {what} progress within {milliseconds} ms", cause);
    }

    private void Break()
    {
        _broken = true;
        inner.Dispose();
    }
}
