using System.Buffers;
using System.Net.Sockets;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The receive side of one direction of an <see cref="ImapFaultProxy"/> connection: a pooled buffer that
/// the pump reads lines and literal chunks from. It grows only for a line longer than itself. A
/// <see cref="HostileImapServer"/> connection reads it with the pull-style helpers (<see cref="ReadLineAsync"/>,
/// <see cref="CopyAsync"/>) instead.
/// </summary>
internal sealed class ImapInbound : IDisposable
{
    private const int InitialSize = 128 * 1024;

    // Compacting for less than this would make many small reads of a long line.
    private const int MinFreeSpace = 16 * 1024;

    private readonly Socket _socket;
    private readonly int _maxLineLength;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _start;
    private int _end;

    // Bytes from _start already known to hold no LF, so a long line is not rescanned on every read.
    private int _scanned;

    public ImapInbound(Socket socket, int maxLineLength)
    {
        _socket = socket;
        _maxLineLength = maxLineLength;
    }

    public int Length => _end - _start;

    /// <summary>Received bytes not consumed yet.</summary>
    public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, Length);

    /// <summary>Reads more from the socket; false at end of stream.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        MakeRoom();
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct);
        _end += read;
        return read > 0;
    }

    /// <summary>Length (LF included) of the complete line at the start of <see cref="Data"/>, if there is one.</summary>
    public bool TryFindLine(out int length)
    {
        var newline = Data[_scanned..].IndexOf((byte)'\n');
        if (newline < 0)
        {
            _scanned = Length;
            length = 0;
            return false;
        }

        length = _scanned + newline + 1;
        return true;
    }

    /// <summary>
    /// The next line (LF included) as a new array, reading as needed; null when the stream ends first (a partial line
    /// at the end is dropped: the peer went away in the middle of it). <paramref name="beforeWait"/> runs each time
    /// the socket must be waited on, e.g. to flush what was written so far.
    /// </summary>
    public async ValueTask<byte[]?> ReadLineAsync(CancellationToken ct, Func<ValueTask>? beforeWait = null)
    {
        while (true)
        {
            if (TryFindLine(out var length))
            {
                var line = Data[..length].ToArray();
                Consume(length);
                return line;
            }

            if (beforeWait is not null)
            {
                await beforeWait();
            }

            if (!await ReadAsync(ct))
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Hands the next <paramref name="count"/> bytes to <paramref name="sink"/> in chunks as they arrive (a chunk is
    /// valid until the sink's task completes); throws <see cref="EndOfStreamException"/> when the stream ends first.
    /// </summary>
    public async ValueTask CopyAsync(long count, Func<ReadOnlyMemory<byte>, ValueTask> sink, CancellationToken ct, Func<ValueTask>? beforeWait = null)
    {
        while (count > 0)
        {
            if (Length == 0)
            {
                if (beforeWait is not null)
                {
                    await beforeWait();
                }

                if (!await ReadAsync(ct))
                {
                    throw new EndOfStreamException($"The stream ended {count} bytes before the end of a literal.");
                }

                continue;
            }

            var take = (int)Math.Min(count, Length);
            await sink(_buffer.AsMemory(_start, take));
            Consume(take);
            count -= take;
        }
    }

    /// <summary>The next <paramref name="count"/> bytes as a new array; throws <see cref="EndOfStreamException"/> when the stream ends first.</summary>
    public async ValueTask<byte[]> ReadBytesAsync(int count, CancellationToken ct)
    {
        var bytes = new byte[count];
        var filled = 0;
        await CopyAsync(count, chunk =>
        {
            chunk.CopyTo(bytes.AsMemory(filled));
            filled += chunk.Length;
            return ValueTask.CompletedTask;
        }, ct);
        return bytes;
    }

    public void Consume(int count)
    {
        _start += count;
        _scanned = 0;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void MakeRoom()
    {
        if (_buffer.Length - _end >= MinFreeSpace)
        {
            return;
        }

        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Length);
            _end = Length;
            _start = 0;
            if (_buffer.Length - _end >= MinFreeSpace)
            {
                return;
            }
        }

        if (_buffer.Length >= _maxLineLength)
        {
            throw new InvalidDataException($"An IMAP line longer than {_maxLineLength} bytes: the proxy does not relay that.");
        }

        var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
