namespace MailSync.Core.Model;

/// <summary>
/// The identity of a message when UIDs cannot be trusted (a crash between APPEND and its record,
/// a UIDVALIDITY change): Message-ID, INTERNALDATE to the second, and size. Messages without a
/// Message-ID still match on date and size; true duplicates are paired one to one.
/// </summary>
public readonly record struct ContentKey(string MessageId, long InternalDateUnix, long Size)
{
    public static ContentKey From(string? messageId, DateTimeOffset internalDate, long size)
        => new(messageId ?? string.Empty, internalDate.ToUnixTimeSeconds(), size);
}
