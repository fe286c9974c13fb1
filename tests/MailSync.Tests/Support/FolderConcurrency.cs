using MailSync.Core.Jobs;

namespace MailSync.Tests.Support;

/// <summary>An observer that records how many folders were being copied at once, at most.</summary>
public sealed class FolderConcurrency : IMigrationObserver
{
    private readonly Lock _gate = new();
    private int _running;

    public int Max { get; private set; }

    public int Started { get; private set; }

    public void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy)
    {
        lock (_gate)
        {
            Started++;
            _running++;
            Max = Math.Max(Max, _running);
        }
    }

    public void MessagesCopied(string job, int messages, long bytes)
    {
    }

    public void FolderFinished(string job, FolderResult result)
    {
        lock (_gate)
            _running--;
    }
}
