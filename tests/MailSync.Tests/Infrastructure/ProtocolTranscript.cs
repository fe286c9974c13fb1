using System.Text;
using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A MailKit protocol logger that keeps what was said, line by line, so a test can read the
/// server's exact words where MailKit's exceptions drop them (e.g. a POP3 "-ERR [IN-USE] ..."
/// answer to PASS surfaces only as an AuthenticationException).
/// Secrets are logged as sent: test passwords are throwaway.
/// </summary>
public sealed class ProtocolTranscript : IProtocolLogger
{
    private readonly Lock _gate = new();
    private readonly StringBuilder _server = new();
    private readonly StringBuilder _client = new();

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    /// <summary>Complete lines the server sent, without CRLF.</summary>
    public IReadOnlyList<string> ServerLines => Lines(_server);

    /// <summary>Complete lines the client sent, without CRLF.</summary>
    public IReadOnlyList<string> ClientLines => Lines(_client);

    public void LogConnect(Uri uri)
    {
    }

    public void LogClient(byte[] buffer, int offset, int count) => Append(_client, buffer, offset, count);

    public void LogServer(byte[] buffer, int offset, int count) => Append(_server, buffer, offset, count);

    public void Dispose()
    {
    }

    public override string ToString()
    {
        lock (_gate)
        {
            return $"--- client ---\n{_client}--- server ---\n{_server}";
        }
    }

    private void Append(StringBuilder target, byte[] buffer, int offset, int count)
    {
        lock (_gate)
        {
            target.Append(Encoding.UTF8.GetString(buffer, offset, count));
        }
    }

    private List<string> Lines(StringBuilder source)
    {
        string text;
        lock (_gate)
        {
            text = source.ToString();
        }

        var lines = text.Split("\r\n").ToList();
        lines.RemoveAt(lines.Count - 1); // the unfinished tail (empty when the text ends with CRLF)
        return lines;
    }
}
