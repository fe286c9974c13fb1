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

    /// <summary>Path of the dovecot binary; null looks in /usr/sbin, then on PATH.</summary>
    public string? DovecotPath { get; init; }
}
