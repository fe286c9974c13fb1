using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>One message to APPEND while seeding: exact bytes plus the IMAP metadata to store with it.</summary>
public sealed record SeedMessage(
    byte[] Raw,
    DateTimeOffset InternalDate,
    MessageFlags Flags,
    IReadOnlyList<string> Keywords);
