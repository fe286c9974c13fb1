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

    // MailKit's tags are a letter and eight digits, and the letter moves on (A, B, C…) with every
    // client a process creates: taking "A" for granted lost every later connection's refusals.
    // The letter is learnt from the first byte of the connection's first command, the only client
    // byte ever looked at (no secret is held); one letter keeps the cheap filter cheap, since
    // every line of every message body passes here.
    private byte _tagLetter = (byte)'A';
    private bool _learnTag = true;

    /// <summary>Forgets the last refusal; the next connection's tag letter is learnt again.</summary>
    public override void Clear()
    {
        base.Clear();
        _learnTag = true;
    }

    public override void LogClient(byte[] buffer, int offset, int count)
    {
        if (_learnTag && count > 0 && buffer[offset] is >= (byte)'A' and <= (byte)'Z')
        {
            _tagLetter = buffer[offset];
            _learnTag = false;
        }
    }

    protected override bool MayStartLine(byte first) => first == (byte)'*' || first == _tagLetter;

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
