namespace MailSync.Tests.Infrastructure;

/// <summary>Per-server knobs for <see cref="DovecotServer"/>; the defaults model a stock Dovecot.</summary>
public sealed record DovecotOptions
{
    public NamespaceStyle NamespaceStyle { get; init; } = NamespaceStyle.Default;

    /// <summary>
    /// When true, Sent/Drafts/Trash/Junk/Archive are created and subscribed at login.
    /// Off by default so tests see exactly the folders they created.
    /// </summary>
    public bool AutoCreateSpecialFolders { get; init; }

    /// <summary>Per user and client IP, for IMAP and POP3; null keeps Dovecot's default of 10.</summary>
    public int? MaxUserConnections { get; init; }

    /// <summary>
    /// When true, POP3 offers APOP: the greeting carries a timestamp ("+OK Dovecot (Debian) ready.
    /// &lt;...@host&gt;"). Off by default because MailKit's AuthenticateAsync(user, password) tries
    /// APOP before SASL and USER/PASS, so turning it on changes which login path a test exercises.
    /// </summary>
    public bool Apop { get; init; }

    /// <summary>
    /// pop3_lock_session = yes: one POP3 session per mailbox. A second login authenticates, waits
    /// for the session lock (10 s, hard-coded in Dovecot 2.3), then gets
    /// "-ERR [IN-USE] Mailbox is locked by another POP3 session." and is disconnected.
    /// For an immediate [IN-USE], <see cref="MaxUserConnections"/> = 1 answers a second login's PASS
    /// with "-ERR [IN-USE] Maximum number of connections from user+IP exceeded
    /// (mail_max_userip_connections=1)" (seen by hand with Dovecot 2.3.19; no test pins it).
    /// </summary>
    public bool Pop3LockSession { get; init; }

    /// <summary>
    /// Largest message the server stores, in KiB (quota plugin, quota_max_mail_size); a bigger
    /// APPEND gets "NO [LIMIT] Mail size is larger than the maximum size allowed by server
    /// configuration". Null: no limit.
    /// </summary>
    public int? MaxMailSizeKb { get; init; }

    /// <summary>
    /// Storage quota per user, in KiB (quota plugin, quota_rule = *:storage=NK); an APPEND that
    /// would exceed it gets "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)". Null: no quota.
    /// </summary>
    public int? QuotaStorageKb { get; init; }

    /// <summary>
    /// When true, IMAP and POP3 also accept XOAUTH2 and OAUTHBEARER with tokens from
    /// <see cref="DovecotServer.IssueOAuth2Token"/>, checked by a test-local introspection endpoint
    /// on 127.0.0.1. Password logins keep working.
    /// </summary>
    public bool OAuth2 { get; init; }

    /// <summary>
    /// When true, the server offers no TLS at all (ssl = no): no STARTTLS in the IMAP capabilities,
    /// no STLS in POP3's CAPA, and nothing listens on <see cref="DovecotServer.ImapsPort"/> and
    /// <see cref="DovecotServer.Pop3sPort"/>. For checking that a client configured for TLS refuses
    /// such a server instead of logging in unencrypted.
    /// </summary>
    public bool DisableTls { get; init; }

    /// <summary>
    /// When true, IMAP's capability list leaves out BINARY (RFC 3516), as many servers' do: a
    /// message with NUL bytes then cannot be appended and must be refused by name.
    /// </summary>
    public bool WithoutBinary { get; init; }

    /// <summary>
    /// When true, IMAP's capability list leaves out MOVE (RFC 6851), as older servers' do: a client
    /// then moves by COPY, STORE +FLAGS (\Deleted) and UID EXPUNGE, three commands where MOVE is one.
    /// </summary>
    public bool WithoutMove { get; init; }

    /// <summary>Path of the dovecot binary; null looks in /usr/sbin, then on PATH.</summary>
    public string? DovecotPath { get; init; }
}
