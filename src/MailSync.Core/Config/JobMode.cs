namespace MailSync.Core.Config;

/// <summary>What a job does. JSON: "migrate" or "sync".</summary>
public enum JobMode
{
    /// <summary>Copy the source into the target, one way; nothing is ever deleted on either side.</summary>
    Migrate,

    /// <summary>Keep two IMAP accounts one mailbox, both ways: new mail, flags, moves, deletions (guarded) and folders.</summary>
    Sync,
}
