namespace MailSync.Core.Checkpoints;

/// <summary>Where one source message stands. Stored as text so the ledger stays readable with the sqlite3 shell.</summary>
public enum MessageState
{
    /// <summary>An APPEND was (or was about to be) sent; the outcome is unknown until reconciled.</summary>
    Pending,

    /// <summary>On the target; <see cref="MessageRecord.TargetUid"/> is known.</summary>
    Copied,

    /// <summary>Could not be carried; <see cref="MessageRecord.LastError"/> says why.</summary>
    Failed,
}
