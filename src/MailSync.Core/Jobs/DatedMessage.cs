namespace MailSync.Core.Jobs;

/// <summary>A POP3 message whose INTERNALDATE came from a fallback rule, for the report.</summary>
public sealed record DatedMessage(string SourceKey, uint? TargetUid, DateTimeOffset InternalDate, string DateSource);
