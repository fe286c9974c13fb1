using System.Buffers;
using System.Net.Sockets;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The receive side of one direction of an <see cref="ImapFaultProxy"/> connection: a pooled buffer that
/// the pump reads lines and literal chunks from. It grows only for a line longer than itself.
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
