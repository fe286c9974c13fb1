namespace MailSync.Core.Jobs;

/// <summary>Progress seam for a front end (the CLI's live display); calls come from the job's own task.</summary>
public interface IMigrationObserver
{
    void FolderStarted(string job, string sourceFolder, string targetFolder, int messagesToCopy, long bytesToCopy);

    void MessagesCopied(string job, int messages, long bytes);

    void FolderFinished(string job, FolderResult result);
}
