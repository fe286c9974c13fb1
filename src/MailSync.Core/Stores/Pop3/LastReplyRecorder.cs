namespace MailSync.Core.Stores.Pop3;

/// <summary>
/// Keeps the last "-ERR" line the POP3 server sent. MailKit turns a refused PASS into a bare
/// AuthenticationException; the response code in that line ([IN-USE], [SYS/TEMP], [AUTH]…) is
/// what tells "try later" from "wrong password".
/// </summary>
internal sealed class LastReplyRecorder : ServerLineRecorder
{
    /// <summary>The last complete "-ERR" line since <see cref="ServerLineRecorder.Clear"/>, without CRLF.</summary>
    public string? LastError => Last;

    protected override bool MayStartLine(byte first) => first == (byte)'-';

    protected override bool Keeps(string line) => line.StartsWith("-ERR", StringComparison.Ordinal);
}
