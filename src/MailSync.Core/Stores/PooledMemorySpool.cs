using System.Buffers;

namespace MailSync.Core.Stores;

/// <summary>
/// A fixed-size in-memory spool whose buffer is rented from <see cref="ArrayPool{T}.Shared"/> and
/// returned on dispose. Messages of a few hundred KB would otherwise each allocate a fresh array
/// on the large object heap, which is only reclaimed by full collections: the process's memory
/// then grows with the number of messages copied instead of with the batches in flight.
/// </summary>
internal sealed class PooledMemorySpool : MemoryStream
{
    private byte[]? _rented;

    private PooledMemorySpool(byte[] rented)
        : base(rented, 0, rented.Length, writable: true, publiclyVisible: true)
    {
        _rented = rented;
        SetLength(0);
    }

    /// <summary>A spool for exactly <paramref name="capacity"/> bytes (the literal's announced length).</summary>
    public static PooledMemorySpool Rent(int capacity) => new(ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 1)));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Interlocked.Exchange(ref _rented, null) is { } rented)
            ArrayPool<byte>.Shared.Return(rented);
    }
}
