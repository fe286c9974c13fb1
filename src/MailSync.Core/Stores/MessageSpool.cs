namespace MailSync.Core.Stores;

/// <summary>
/// Where a downloaded message waits for its APPEND: memory for ordinary sizes, a temporary file
/// (deleted on close) above a threshold, so a 40 MB message never sits on the heap.
/// </summary>
public static class MessageSpool
{
    /// <summary>1 MiB: most mail stays in memory; attachments-heavy messages go to disk.</summary>
    public const long DefaultSpoolToDiskAbove = 1024 * 1024;

    /// <summary>An empty spool for exactly <paramref name="length"/> bytes (in memory it cannot grow past them).</summary>
    public static Stream Create(long length, long spoolToDiskAbove)
        => length > spoolToDiskAbove
            ? new FileStream(Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose)
            : PooledMemorySpool.Rent((int)Math.Clamp(length, 0, int.MaxValue));

    /// <summary>
    /// The message's bytes as a spool the caller owns: the store's own spool when it can be taken
    /// over (<see cref="DetachableStream"/>), otherwise a copy.
    /// </summary>
    public static async Task<Stream> TakeAsync(Stream stream, long expectedLength, long spoolToDiskAbove, CancellationToken cancellationToken)
    {
        if (stream is DetachableStream detachable)
            return detachable.Detach();
        // The announced size may be off (a server's RFC822.SIZE is not always the bytes it sends),
        // so a copy goes into a spool that can grow, not a pooled one of fixed size.
        Stream spool = expectedLength > spoolToDiskAbove ? Create(expectedLength, spoolToDiskAbove) : new MemoryStream();
        try
        {
            await stream.CopyToAsync(spool, cancellationToken).ConfigureAwait(false);
            spool.Position = 0;
            return spool;
        }
        catch
        {
            await spool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
