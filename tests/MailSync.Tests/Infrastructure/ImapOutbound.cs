using System.Buffers;
using System.Net.Sockets;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The send side of one direction of an <see cref="ImapFaultProxy"/> connection: what a pump relays is
/// gathered here and sent in one go per read. It also counts relayed bytes against an optional limit
/// (<see cref="ImapFaultProxy.CutPlan"/>): past it nothing more is taken, and the pump cuts.
/// </summary>
internal sealed class ImapOutbound : IDisposable
{
    private const int InitialSize = 128 * 1024;

    private readonly Socket _socket;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _count;

    public ImapOutbound(Socket socket, long limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        _socket = socket;
        Limit = limit;
    }

    /// <summary>Bytes after which this direction is cut; long.MaxValue for none.</summary>
    public long Limit { get; }

    /// <summary>Bytes taken for relaying so far (sent or about to be).</summary>
    public long Relayed { get; private set; }

    public bool LimitReached => Relayed >= Limit;

    /// <summary>Bytes queued and not flushed yet.</summary>
    public int Pending => _count;

    /// <summary>Queues bytes for the next flush, as many as the limit leaves room for.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        var room = Limit - Relayed;
        if (room <= 0)
        {
            return;
        }

        if (data.Length > room)
        {
            data = data[..(int)room];
        }

        if (_buffer.Length - _count < data.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _count + data.Length));
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _count);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        data.CopyTo(_buffer.AsSpan(_count));
        _count += data.Length;
        Relayed += data.Length;
    }

    /// <summary>Drops what is queued, as if it had never been relayed.</summary>
    public void Discard()
    {
        Relayed -= _count;
        _count = 0;
    }

    public async ValueTask FlushAsync(CancellationToken ct)
    {
        var sent = 0;
        while (sent < _count)
        {
            sent += await _socket.SendAsync(_buffer.AsMemory(sent, _count - sent), SocketFlags.None, ct);
        }

        _count = 0;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
