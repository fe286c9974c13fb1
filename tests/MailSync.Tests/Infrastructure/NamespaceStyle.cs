namespace MailSync.Tests.Infrastructure;

/// <summary>How the test server lays out its personal namespace.</summary>
public enum NamespaceStyle
{
    /// <summary>Separator '/', empty prefix: folders sit beside INBOX (Dovecot, Gmail).</summary>
    Default,

    /// <summary>Separator '.', prefix "INBOX.": every folder lives under INBOX (Courier, Cyrus).</summary>
    InboxPrefixDot,
}
