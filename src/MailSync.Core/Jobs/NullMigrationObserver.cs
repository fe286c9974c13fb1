namespace MailSync.Core.Jobs;

/// <summary>An observer that ignores everything, for library callers and tests that need no display.</summary>
public sealed class NullMigrationObserver : IMigrationObserver
{
    public static readonly NullMigrationObserver Instance = new();

    public void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy)
    {
    }

    public void MessagesCopied(string job, int messages, long bytes)
    {
    }

    public void FolderFinished(string job, FolderResult result)
    {
    }
}
