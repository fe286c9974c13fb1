namespace MailSync.Core.Sync;

/// <summary>Where a POP3 message's INTERNALDATE came from; POP3 itself has no arrival date.</summary>
public enum ArrivalDateSource
{
    /// <summary>The newest parseable date among the Received: headers: when the mail really arrived.</summary>
    Received,

    /// <summary>No usable Received: header; the Date: header (when the sender wrote it).</summary>
    Date,

    /// <summary>Neither header could be read; the time MailSync downloaded the message.</summary>
    Retrieval,
}
