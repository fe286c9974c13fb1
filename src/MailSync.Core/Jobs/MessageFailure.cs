namespace MailSync.Core.Jobs;

/// <summary>A message that was not copied, with the reason (the server's own words where it gave any).</summary>
public sealed record MessageFailure(string SourceFolder, uint SourceUid, string? MessageId, long Size, string Reason)
{
    /// <summary>POP3 only: the UIDL (or fingerprint) that names the message on the server; SourceUid is then MailSync's own number.</summary>
    public string? SourceKey { get; init; }

    /// <summary>
    /// A message an earlier run recorded as not copied: it is still not on the target, so every
    /// run reports it again and the exit code never reads "all copied".
    /// </summary>
    public static MessageFailure FromEarlierRun(string sourceFolder, Checkpoints.MessageRecord record)
        => new(sourceFolder, record.SourceUid, record.MessageId, record.SourceSize, $"{record.LastError} (recorded by an earlier run)")
        {
            SourceKey = record.SourceKey,
        };

    /// <summary>
    /// A message an earlier run recorded as not copied that <c>--retry-failed</c> could not try
    /// again because the source no longer has it (deleted or moved there since). Its ledger row is
    /// kept, so it stays visible until someone decides what to do about it.
    /// </summary>
    public static MessageFailure NoLongerOnSource(string sourceFolder, Checkpoints.MessageRecord record)
        => new(sourceFolder, record.SourceUid, record.MessageId, record.SourceSize, $"no longer on the source, so not retried (it had failed: {record.LastError})")
        {
            SourceKey = record.SourceKey,
        };
}
