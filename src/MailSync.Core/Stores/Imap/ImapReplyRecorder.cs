namespace MailSync.Core.Stores.Imap;

/// <summary>
/// Keeps the IMAP server's last refusal: a tagged NO or BAD, or an untagged BYE or NO. MailKit's
/// exceptions drop the response code ([THROTTLED], [OVERQUOTA], [UNAVAILABLE]…) and Microsoft's
/// "Suggested Backoff Time", which decide whether to wait, skip or stop.
/// </summary>
internal sealed class ImapReplyRecorder : ServerLineRecorder
{
    /// <summary>The last NO/BAD/BYE line since <see cref="ServerLineRecorder.Clear"/>, without CRLF.</summary>
    public string? LastRefusal => Last;

    // Responses start with "*" or a MailKit tag: a letter that MailKit moves on (A, B, C…) with
    // every client a process creates, then eight digits. Only "A" was taken before, so every
    // connection after a process's first lost its refusals' response codes.
    protected override bool MayStartLine(byte first) => first is (byte)'*' or >= (byte)'A' and <= (byte)'Z';

    protected override bool Keeps(string line)
    {
        var firstSpace = line.IndexOf(' ');
        if (firstSpace < 0)
            return false;
        var rest = line.AsSpan(firstSpace + 1);
        if (line[0] == '*')
            return rest.StartsWith("BYE", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("NO ", StringComparison.OrdinalIgnoreCase);
        // A tag as MailKit makes them (a message body's line "Subject NO…" is not one).
        if (firstSpace != 9 || line.AsSpan(1, 8).ContainsAnyExceptInRange('0', '9'))
            return false;
        return rest.StartsWith("NO", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("BAD", StringComparison.OrdinalIgnoreCase);
    }
}
