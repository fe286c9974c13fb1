namespace MailSync.Core.Config;

/// <summary>The mail access protocol of an account. JSON: "imap" or "pop3".</summary>
public enum Protocol
{
    Imap,
    Pop3,
}
