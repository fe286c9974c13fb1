namespace MailSync.Tests.Infrastructure;

/// <summary>The knobs of a <see cref="HostileImapServer"/>'s modes; each applies to the modes it names and is ignored by the others.</summary>
public sealed record HostileOptions
{
    /// <summary>
    /// <see cref="HostileMode.EndlessLine"/>, <see cref="HostileMode.UntaggedFlood"/>: the verb of the command that
    /// gets the misbehaviour ("LIST", "SELECT", "UID FETCH"); null: the first command after login, whatever it is.
    /// </summary>
    public string? TriggerVerb { get; init; }

    /// <summary>
    /// <see cref="HostileMode.SlowHugeLiteral"/>: the length the literal is announced with. The default, 2^31, is one
    /// more than a signed 32-bit length can hold (MailKit 4 rejects it at once as a syntax error); 2147483647 passes
    /// that check and gets a client to the trickle.
    /// </summary>
    public long HugeLiteralLength { get; init; } = 2_147_483_648;

    /// <summary><see cref="HostileMode.SlowHugeLiteral"/>: the pause between two bytes of the literal.</summary>
    public TimeSpan TrickleInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary><see cref="HostileMode.UnsolicitedFetch"/>: which unsolicited responses come before each FETCH's tagged OK.</summary>
    public UnsolicitedKinds Unsolicited { get; init; } = UnsolicitedKinds.Fetch;

    /// <summary>
    /// Any mode: called once per server, before the first UID FETCH of message bodies (BODY.PEEK[] or BINARY.PEEK[])
    /// is forwarded, so that another session can change the mailbox under that command (a real expunge, which the
    /// server then reports to the relayed session as an unsolicited EXPUNGE). Counts as the server misbehaving once.
    /// </summary>
    public Func<Task>? BeforeBodyFetch { get; init; }

    /// <summary><see cref="HostileMode.ManyFolders"/>: how many extra folders each listing gets.</summary>
    public int ExtraFolderCount { get; init; } = 200_000;

    /// <summary><see cref="HostileMode.BadFolderName"/>: the extra folder's name.</summary>
    public HostileName BadName { get; init; } = HostileName.Utf8Bytes;

    /// <summary>
    /// <see cref="HostileMode.BadFolderName"/>: the real folder (decoded name, as <see cref="ModifiedUtf7.Encode"/> takes
    /// it) that commands naming the hostile folder are sent to. It must exist for those commands to succeed.
    /// </summary>
    public string BadNameTarget { get; init; } = "INBOX";

    /// <summary><see cref="HostileMode.RandomRefusals"/>: the share of commands after login that are refused, 0 to 1.</summary>
    public double RefusalRate { get; init; } = 0.2;

    /// <summary><see cref="HostileMode.RandomRefusals"/>: the seed; connection n draws from <c>new Random(RefusalSeed * 1_000_003 + n)</c>.</summary>
    public int RefusalSeed { get; init; } = 19;
}
