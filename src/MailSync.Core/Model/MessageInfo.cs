using MailKit;

namespace MailSync.Core.Model;

/// <summary>
/// What a store tells about one message without its body: enough to plan a copy and to recognise
/// the message again by content (Message-ID + INTERNALDATE + size) when UIDs cannot be trusted.
/// </summary>
public sealed record MessageInfo(
    uint Uid,
    long Size,
    DateTimeOffset InternalDate,
    MessageFlags Flags,
    IReadOnlyCollection<string> Keywords,
    string? MessageId);
