namespace MailSync.Tests.Infrastructure;

/// <summary>
/// Per-server knobs for <see cref="CyrusServer"/>. The defaults are the settings of Debian's packaged
/// /etc/imapd.conf (altnamespace: no, unixhierarchysep: no: folders are "INBOX.Sub" with '.'), plus
/// Cyrus's own defaults for everything Debian leaves unset.
/// </summary>
public sealed record CyrusOptions
{
    /// <summary>
    /// unixhierarchysep: false (Debian) gives '.' as the hierarchy separator; true gives '/'. It also
    /// decides how the admin names a user's INBOX: "user.NAME" or "user/NAME" (with '/' the name
    /// "user.NAME" is a shared folder, not a user).
    /// </summary>
    public bool UnixHierarchySeparator { get; init; }

    /// <summary>
    /// altnamespace: false (Debian) puts a user's folders under "INBOX." (NAMESPACE (("INBOX." ".")));
    /// true puts them beside INBOX at the top level (NAMESPACE (("" "/")) with '/').
    /// </summary>
    public bool AltNamespace { get; init; }

    /// <summary>
    /// munge8bit (Cyrus default on): the documentation says lmtpd, but imapd's APPEND does it too: every
    /// 8-bit byte in the header section is stored as 'X'. Bodies are never touched. Off: headers are
    /// stored byte for byte.
    /// </summary>
    public bool Munge8Bit { get; init; } = true;

    /// <summary>
    /// reject8bit (Cyrus default off): an APPEND with 8-bit bytes in the header section gets
    /// "NO Message contains non-ASCII characters in headers". Overrides <see cref="Munge8Bit"/>.
    /// </summary>
    public bool Reject8Bit { get; init; }

    /// <summary>
    /// When true (default), every user made by <see cref="CyrusServer.CreateUserAsync"/> gets a Cyrus
    /// telemetry folder (CONFIG/log/NAME), so imapd writes each of that user's sessions, message bytes
    /// included, to a file <see cref="CyrusServer.ReadLogTail"/> shows. Cyrus's own log goes only to
    /// syslog, which a test machine usually lacks. Turn it off for tests that move a lot of mail.
    /// </summary>
    public bool ProtocolLog { get; init; } = true;

    /// <summary>More imapd.conf lines ("option: value"), appended after the generated ones.</summary>
    public IReadOnlyList<string> ExtraImapdConf { get; init; } = [];

    /// <summary>
    /// Root of the unpacked Cyrus packages (holding usr/lib/cyrus/bin); null: $MAILSYNC_CYRUS_DIR, else
    /// $MAILSYNC_TEST_SERVERS/cyrus, else /opt/mailsync-test-servers/cyrus, where
    /// scripts/install-test-servers.sh puts it.
    /// </summary>
    public string? CyrusDirectory { get; init; }
}
