namespace MailSync.Core.Checkpoints;

/// <summary>
/// One source message's row in the ledger. <see cref="TargetSize"/> is the size of the bytes
/// appended, which is what the target reports back, so reconciliation can match on it;
/// <see cref="SourceFlags"/> and <see cref="TargetFlags"/> are the flags last synced on each side
/// (space-separated, system flags and keywords), which two-way sync compares against.
/// </summary>
public sealed record MessageRecord(
    uint SourceUid,
    uint? TargetUid,
    MessageState State,
    string? MessageId,
    long InternalDateUnix,
    long SourceSize,
    long TargetSize,
    string SourceFlags,
    string TargetFlags,
    uint TargetUidNextBefore,
    int Attempts,
    string? LastError)
{
    /// <summary>POP3 only: the UIDL, or "fp:" and a hash of the headers and size when the server has no UIDL.</summary>
    public string? SourceKey { get; init; }

    /// <summary>POP3 only: which rule gave the INTERNALDATE (see <c>Sync.ArrivalDate</c>).</summary>
    public string? DateSource { get; init; }

    /// <summary>POP3 only: when the server confirmed (QUIT) the deletion of the source message.</summary>
    public DateTimeOffset? SourceDeletedUtc { get; init; }
}
