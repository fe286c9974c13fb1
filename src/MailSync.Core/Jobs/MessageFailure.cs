namespace MailSync.Core.Jobs;

/// <summary>A message that was not copied, with the reason (the server's own words where it gave any).</summary>
public sealed record MessageFailure(string SourceFolder, uint SourceUid, string? MessageId, long Size, string Reason)
{
    /// <summary>POP3 only: the UIDL (or fingerprint) that names the message on the server; SourceUid is then MailSync's own number.</summary>
    public string? SourceKey { get; init; }
}
