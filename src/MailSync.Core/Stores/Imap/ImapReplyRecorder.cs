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

    // Responses start with "*" or MailKit's "A" tag prefix.
    protected override bool MayStartLine(byte first) => first is (byte)'*' or (byte)'A';

    protected override bool Keeps(string line)
    {
        var firstSpace = line.IndexOf(' ');
        if (firstSpace < 0)
            return false;
        var rest = line.AsSpan(firstSpace + 1);
        if (line[0] == '*')
            return rest.StartsWith("BYE", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("NO ", StringComparison.OrdinalIgnoreCase);
        return rest.StartsWith("NO", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("BAD", StringComparison.OrdinalIgnoreCase);
    }
}
