using System.Text;
using MailKit;

namespace MailSync.Core.Stores.Pop3;

/// <summary>
/// A protocol logger that logs nothing and keeps only the last "-ERR" line the server sent.
/// MailKit turns a refused PASS into a bare AuthenticationException; the response code in that
/// line ([IN-USE], [SYS/TEMP], [AUTH]…) is what tells "try later" from "wrong password".
/// Client lines are never looked at, so no secret is ever held.
/// </summary>
internal sealed class LastReplyRecorder : IProtocolLogger
{
    private const int MaxLine = 512;
    private readonly StringBuilder _line = new();
    private bool _atLineStart = true;
    private bool _collecting;

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    /// <summary>The last complete "-ERR" line since <see cref="Clear"/>, without CRLF.</summary>
    public string? LastError { get; private set; }

    public void Clear() => LastError = null;

    public void LogConnect(Uri uri)
    {
    }

    public void LogClient(byte[] buffer, int offset, int count)
    {
    }

    public void LogServer(byte[] buffer, int offset, int count)
    {
        // Message bodies pass through here too; only lines starting with "-" are collected.
        for (var i = offset; i < offset + count; i++)
        {
            var b = buffer[i];
            if (_atLineStart)
            {
                _collecting = b == (byte)'-';
                _atLineStart = false;
            }

            if (b == (byte)'\n')
            {
                if (_collecting && _line.Length >= 4 && _line.ToString(0, 4) == "-ERR")
                    LastError = _line.ToString().TrimEnd('\r');
                _line.Clear();
                _collecting = false;
                _atLineStart = true;
            }
            else if (_collecting && _line.Length < MaxLine)
            {
                _line.Append((char)b);
            }
        }
    }

    public void Dispose()
    {
    }
}
