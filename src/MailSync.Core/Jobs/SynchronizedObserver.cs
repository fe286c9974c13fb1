namespace MailSync.Core.Jobs;

/// <summary>
/// Serialises calls to an observer: several connection pairs report progress at once, and the
/// progress displays (console, log) are written for one caller at a time.
/// </summary>
internal sealed class SynchronizedObserver(IMigrationObserver inner) : IMigrationObserver
{
    private readonly Lock _gate = new();

    public void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy)
    {
        lock (_gate)
            inner.FolderStarted(job, sourceFolder, targetFolder, messagesToCopy, bytesToCopy);
    }

    public void MessagesCopied(string job, int messages, long bytes)
    {
        lock (_gate)
            inner.MessagesCopied(job, messages, bytes);
    }

    public void FolderFinished(string job, FolderResult result)
    {
        lock (_gate)
            inner.FolderFinished(job, result);
    }
}
