namespace MailSync.Tests.Infrastructure;

/// <summary>
/// How a <see cref="HostileImapServer"/> misbehaves: one misbehaviour per mode, everything else relayed to the real
/// server untouched. "After login" means after the tagged OK of a LOGIN or AUTHENTICATE has reached the client.
/// </summary>
public enum HostileMode
{
    /// <summary>A faithful relay: no misbehaviour at all (switch a server to this to let a re-run converge).</summary>
    None,

    /// <summary>
    /// The first command after login (or the first with <see cref="HostileOptions.TriggerVerb"/>) is not forwarded; it
    /// is answered with one response line that never ends: no CR or LF, ever, bytes sent as fast as the client reads
    /// them, until the client disconnects. For LIST and LSUB the line starts <c>* LIST (\HasNoChildren) "/" "</c>
    /// (a mailbox name that never ends), for anything else <c>* OK </c> (a text that never ends).
    /// </summary>
    EndlessLine,

    /// <summary>
    /// The first command after login (or the first with <see cref="HostileOptions.TriggerVerb"/>) is not forwarded; it
    /// is answered with <c>* OK flood</c> lines as fast as the client reads them, forever, never a tagged response.
    /// </summary>
    UntaggedFlood,

    /// <summary>
    /// A FETCH or UID FETCH of a whole message (BODY[], BODY.PEEK[], BINARY[] or BINARY.PEEK[]) is forwarded, and the
    /// server's first response line announcing that literal is relayed with the length replaced by
    /// <see cref="HostileOptions.HugeLiteralLength"/> (2147483648 unless set: <c>BODY[] {2147483648}</c>; a "~" the
    /// server put before it is kept); then the relay sends one byte ('x') of the literal every
    /// <see cref="HostileOptions.TrickleInterval"/>, forever, and nothing else from the server.
    /// </summary>
    SlowHugeLiteral,

    /// <summary>
    /// Before the tagged OK of every FETCH and UID FETCH, untagged responses the client did not ask for, as a server
    /// sends them when another client changes the mailbox; which ones is <see cref="HostileOptions.Unsolicited"/>.
    /// They stay consistent with the mailbox as the server described it, so a client that takes them at their
    /// word is not misled about which message is which. See <see cref="UnsolicitedKinds"/> for what each says.
    /// </summary>
    UnsolicitedFetch,

    /// <summary>
    /// Every LIST or LSUB with a wildcard in its pattern gets <see cref="HostileOptions.ExtraFolderCount"/> extra
    /// folders (<c>f000001</c>, <c>f000002</c>, ...) before its tagged OK, generated as they are sent and never held in
    /// memory; under LIST-STATUS each comes with a STATUS line of an empty folder. The folders do not exist: a SELECT
    /// or STATUS of one reaches the real server, which answers NO.
    /// </summary>
    ManyFolders,

    /// <summary>
    /// Every LIST or LSUB with a wildcard in its pattern (but a SPECIAL-USE one) gets one extra folder, named as
    /// <see cref="HostileOptions.BadName"/> says, before its tagged OK (under LIST-STATUS with the STATUS of
    /// <see cref="HostileOptions.BadNameTarget"/>). A command that names that folder, in any of the ways a client may
    /// spell it back (<see cref="HostileNames.Aliases"/>), gets <see cref="HostileOptions.BadNameTarget"/> in its
    /// place, so a run that carries the folder can read it: SELECT, EXAMINE, STATUS, CREATE, DELETE, SUBSCRIBE,
    /// UNSUBSCRIBE, APPEND, COPY, MOVE, and a LIST or LSUB of that one name (how a client looks a folder up; never
    /// <c>LIST "" ""</c>, the delimiter query). The STATUS, LIST and LSUB answers to such a command name the folder
    /// as the command spelled it, as a server answers for the folder it was asked about.
    /// </summary>
    BadFolderName,

    /// <summary>The greeting is <c>* BYE [UNAVAILABLE] try later</c> and the connection is closed; the real server is never contacted.</summary>
    ByeGreeting,

    /// <summary>LOGIN and AUTHENTICATE are answered <c>NO [UNAVAILABLE] try later</c> without being forwarded.</summary>
    LoginUnavailable,

    /// <summary>
    /// After login, each command but LOGOUT is answered <c>NO refused at random</c> instead of being forwarded with
    /// probability <see cref="HostileOptions.RefusalRate"/>. The draws are seeded per connection
    /// (<see cref="HostileOptions.RefusalSeed"/> and the connection's number), so the same commands on the n-th
    /// connection meet the same refusals on every run.
    /// </summary>
    RandomRefusals,

    /// <summary>
    /// Control bytes (NUL, ESC colour and title sequences, BEL, BS, DEL, an 8-bit CSI) in texts that reach the
    /// user: the greeting's text (its CAPABILITY code is kept), the text of every tagged NO and BAD, and the name of
    /// one extra folder listed like <see cref="BadFolderName"/>'s (not mapped: selecting it draws Dovecot's NO, whose
    /// text is then replaced too). The bytes are <see cref="HostileNames.ControlText"/> and <see cref="HostileNames.ControlFolder"/>.
    /// </summary>
    ControlBytes,

    /// <summary>
    /// MESSAGES and UIDNEXT in STATUS responses (also LIST-STATUS), the count of every <c>* n EXISTS</c> and the
    /// <c>[UIDNEXT n]</c> code are replaced with 4294967295.
    /// </summary>
    HugeCounts,
}

/// <summary>The hostile folder names of <see cref="HostileMode.BadFolderName"/>; the bytes are <see cref="HostileNames.Bytes"/>.</summary>
public enum HostileName
{
    /// <summary>Raw 8-bit UTF-8 ("Caf\xC3\xA9-8bit", not modified UTF-7).</summary>
    Utf8Bytes,

    /// <summary>Raw 8-bit Latin-1 ("Caf\xE9-latin1"), not even valid UTF-8.</summary>
    Latin1Bytes,

    /// <summary>Control characters (SOH, BEL, ESC, DEL, TAB) in a quoted string.</summary>
    ControlChars,

    /// <summary>An embedded CR LF ("line\r\nbreak"), sent as a literal since a quoted string cannot carry it.</summary>
    CrLf,

    /// <summary>Invalid modified UTF-7: "inv&amp;AGE" (a shift that is never closed, with base64 that decodes to half a character).</summary>
    InvalidUtf7,

    /// <summary>".." segments: "../../escape" (with the server's delimiter).</summary>
    DotDot,

    /// <summary>A leading delimiter: "/leading".</summary>
    LeadingDelimiter,

    /// <summary>A trailing delimiter: "trailing/".</summary>
    TrailingDelimiter,

    /// <summary>300 levels deep: "d/d/.../d".</summary>
    Deep,

    /// <summary>The empty name "".</summary>
    Empty,
}

/// <summary>The unsolicited responses of <see cref="HostileMode.UnsolicitedFetch"/>; combine them freely.</summary>
[Flags]
public enum UnsolicitedKinds
{
    /// <summary>
    /// <c>* n FETCH (UID u FLAGS (\Seen))</c>: a flag change by another client. (n, u) is a message of the selected
    /// mailbox the relay has seen the server report (in a FETCH response carrying UID, since the last SELECT or
    /// EXAMINE; an EXPUNGE forgets them all, as it renumbers), preferably the highest-numbered one whose UID (for
    /// UID FETCH, else sequence number) the command did not ask for; failing that, one it did ask for, reported a
    /// second time. Nothing is injected while the relay knows no message of the mailbox (an empty one).
    /// </summary>
    Fetch = 1,

    /// <summary>
    /// <c>* n EXISTS</c> with the count the server last reported: a repeat, which RFC 3501 (7.3.1) allows at any time.
    /// A larger count would promise a message that does not exist, and a smaller one needs EXPUNGEs, which would
    /// renumber what the client knows; this mode sends neither.
    /// </summary>
    Exists = 2,

    /// <summary><c>* FLAGS (...)</c>: the mailbox's flag list as the server last sent it, plus a new keyword $Hostile.</summary>
    Flags = 4,

    /// <summary>All of the above.</summary>
    All = Fetch | Exists | Flags,
}
