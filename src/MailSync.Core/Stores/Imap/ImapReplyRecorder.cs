using System.Text;
using MailKit;

namespace MailSync.Core.Stores.Imap;

/// <summary>
/// A protocol logger that logs nothing and keeps only the server's last refusal: a tagged NO or
/// BAD, or an untagged BYE or NO. MailKit's exceptions drop the response code ([THROTTLED],
/// [OVERQUOTA], [UNAVAILABLE]…) and Microsoft's "Suggested Backoff Time", which decide whether
/// to wait, skip or stop. Client lines are never looked at, so no secret is ever held.
/// </summary>
internal sealed class ImapReplyRecorder : IProtocolLogger
{
    private const int MaxLine = 512;
    private readonly StringBuilder _line = new();
    private bool _atLineStart = true;
    private bool _collecting;

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    /// <summary>The last NO/BAD/BYE line since <see cref="Clear"/>, without CRLF.</summary>
    public string? LastRefusal { get; private set; }

    public void Clear() => LastRefusal = null;

    public void LogConnect(Uri uri)
    {
    }

    public void LogClient(byte[] buffer, int offset, int count)
    {
    }

    public void LogServer(byte[] buffer, int offset, int count)
    {
        // Message literals pass through here too; only lines that start like a response ("*" or
        // MailKit's "A" tag prefix) are collected, and only up to a short length.
        for (var i = offset; i < offset + count; i++)
        {
            var b = buffer[i];
            if (_atLineStart)
            {
                _collecting = b is (byte)'*' or (byte)'A';
                _atLineStart = false;
            }

            if (b == (byte)'\n')
            {
                if (_collecting && IsRefusal(_line))
                    LastRefusal = _line.ToString().TrimEnd('\r');
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

    private static bool IsRefusal(StringBuilder line)
    {
        var text = line.ToString();
        var firstSpace = text.IndexOf(' ');
        if (firstSpace < 0)
            return false;
        var rest = text.AsSpan(firstSpace + 1);
        if (text[0] == '*')
            return rest.StartsWith("BYE", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("NO ", StringComparison.OrdinalIgnoreCase);
        return rest.StartsWith("NO", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("BAD", StringComparison.OrdinalIgnoreCase);
    }
}
