using System.Text;
using MailKit;

namespace MailSync.Core.Stores;

/// <summary>
/// A protocol logger that logs nothing and keeps only the last server line a subclass cares about
/// (a POP3 "-ERR", an IMAP NO/BAD/BYE): MailKit's exceptions drop the response codes that decide
/// between "try later" and "give up". Message bodies pass through here too, so only lines whose
/// first byte qualifies are collected, and only up to a short length. Client lines are never
/// looked at, so no secret is ever held.
/// </summary>
internal abstract class ServerLineRecorder : IProtocolLogger
{
    private const int MaxLine = 512;
    private readonly StringBuilder _line = new();
    private bool _atLineStart = true;
    private bool _collecting;

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    /// <summary>The last kept line since <see cref="Clear"/>, without CRLF.</summary>
    protected string? Last { get; private set; }

    public virtual void Clear() => Last = null;

    public void LogConnect(Uri uri)
    {
    }

    public virtual void LogClient(byte[] buffer, int offset, int count)
    {
    }

    public void LogServer(byte[] buffer, int offset, int count)
    {
        // Every byte the server sends passes here, message bodies included, so the scan jumps from
        // line end to line end (a vectorised search) and copies only lines that may be kept.
        var data = buffer.AsSpan(offset, count);
        while (!data.IsEmpty)
        {
            if (_atLineStart)
            {
                _collecting = MayStartLine(data[0]);
                _atLineStart = false;
            }

            var end = data.IndexOf((byte)'\n');
            var part = end < 0 ? data : data[..end];
            if (_collecting && _line.Length < MaxLine)
            {
                foreach (var b in part[..Math.Min(part.Length, MaxLine - _line.Length)])
                    _line.Append((char)b);
            }

            if (end < 0)
                return;

            if (_collecting)
            {
                var line = _line.ToString().TrimEnd('\r');
                if (Keeps(line))
                    Last = line;
            }

            _line.Clear();
            _collecting = false;
            _atLineStart = true;
            data = data[(end + 1)..];
        }
    }

    public void Dispose()
    {
    }

    /// <summary>Whether a line starting with this byte may be one to keep (cheap filter for body lines).</summary>
    protected abstract bool MayStartLine(byte first);

    /// <summary>Whether to keep this complete line (CRLF removed).</summary>
    protected abstract bool Keeps(string line);
}
