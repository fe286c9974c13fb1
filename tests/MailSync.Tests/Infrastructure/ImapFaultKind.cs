namespace MailSync.Tests.Infrastructure;

/// <summary>The one-shot faults an <see cref="ImapFaultProxy"/> can arm.</summary>
internal enum ImapFaultKind
{
    /// <summary>LOGIN or AUTHENTICATE: forward nothing of it, cut.</summary>
    CutDuringLogin,

    /// <summary>A server FETCH response literal larger than the byte count: relay that many bytes of it, cut.</summary>
    CutInFetchLiteral,

    /// <summary>APPEND: forward the command line and that many bytes of its first literal, cut.</summary>
    CutInAppendLiteral,

    /// <summary>APPEND: forward all of it, swallow the server's tagged response and cut when it arrives.</summary>
    CutBeforeAppendOk,

    /// <summary>A command with the verb: forward nothing of it, cut.</summary>
    CutBefore,

    /// <summary>A command with the verb: forward all of it, swallow the server's tagged response and cut when it arrives.</summary>
    CutBeforeOk,

    /// <summary>A command with the verb: forward it, relay nothing more from the server for a while, cut.</summary>
    StallOn,

    /// <summary>A command with the verb: answer it in the server's place without forwarding it.</summary>
    Answer,
}
