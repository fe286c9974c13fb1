using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>The tagged completion of one raw IMAP command and the untagged lines before it.</summary>
/// <param name="Status">"OK", "NO" or "BAD".</param>
/// <param name="Text">The rest of the tagged line, response code included (e.g. "[TRYCREATE] Mailbox does not exist").</param>
/// <param name="Untagged">Untagged and continuation lines, without CRLF; literals inside them are appended as Latin-1 text.</param>
internal sealed record RawImapResponse(string Status, string Text, IReadOnlyList<string> Untagged)
{
    public bool IsOk => Status == "OK";
}

/// <summary>
/// A bare IMAP client over a TcpClient, for seeding and setting up test servers without MailSync's or
/// MailKit's code: what it sends is exactly what the caller wrote, and an APPEND literal carries the
/// caller's bytes unchanged (MailKit's AppendAsync re-serialises a message). Plain text only, one
/// command at a time, synchronizing literals only (so it also works with servers lacking LITERAL+).
/// </summary>
internal sealed class RawImapConnection : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _reader;
    private int _tag;

    private RawImapConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new BufferedStream(_stream, 64 * 1024);
    }

    /// <summary>The server's greeting line, without CRLF.</summary>
    public string Greeting { get; private set; } = "";

    /// <summary>Connects and reads the greeting; throws unless it is "* OK".</summary>
    public static async Task<RawImapConnection> ConnectAsync(string host, int port, CancellationToken ct = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        RawImapConnection? connection = null;
        try
        {
            using var timeout = Timeout(ct);
            await tcp.ConnectAsync(host, port, timeout.Token);
            connection = new RawImapConnection(tcp);
            connection.Greeting = Encoding.Latin1.GetString(await connection.ReadLineAsync(timeout.Token));
            if (!connection.Greeting.StartsWith("* OK", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"IMAP server {host}:{port} greeted with '{connection.Greeting}'.");
            }

            return connection;
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
            else
            {
                tcp.Dispose();
            }

            throw;
        }
    }

    /// <summary>LOGIN with quoted strings; throws unless the server answers OK.</summary>
    public async Task LoginAsync(string name, string password, CancellationToken ct = default)
    {
        var response = await CommandAsync($"LOGIN {Quote(name)} {Quote(password)}", ct);
        if (!response.IsOk)
        {
            // The password stays out of the message.
            throw new InvalidOperationException($"LOGIN {name} failed: {response.Status} {response.Text}");
        }
    }

    /// <summary>
    /// Sends one command line (without tag and CRLF) and reads up to its tagged completion. A NO or BAD
    /// is returned, not thrown: callers decide which answers they expect.
    /// </summary>
    public async Task<RawImapResponse> CommandAsync(string command, CancellationToken ct = default)
    {
        using var timeout = Timeout(ct);
        var tag = NextTag();
        await WriteAsync(Encoding.ASCII.GetBytes($"{tag} {command}\r\n"), timeout.Token);
        return await ReadResponseAsync(tag, timeout.Token);
    }

    /// <summary>
    /// APPEND <paramref name="mailbox"/> (the name as sent on the wire, quoted here) with a flag list
    /// (e.g. @"\Seen $Label1", "" for none), an INTERNALDATE and the message as one synchronizing
    /// literal of exactly <paramref name="message"/>. A NO or BAD is returned, not thrown.
    /// </summary>
    public async Task<RawImapResponse> AppendAsync(
        string mailbox, string flags, DateTimeOffset internalDate, ReadOnlyMemory<byte> message, CancellationToken ct = default)
    {
        using var timeout = Timeout(ct);
        var tag = NextTag();
        var line = $"{tag} APPEND {Quote(mailbox)} ({flags}) \"{FormatInternalDate(internalDate)}\" {{{message.Length}}}\r\n";
        await WriteAsync(Encoding.ASCII.GetBytes(line), timeout.Token);

        // A synchronizing literal: the server answers "+" to go on, or ends the command at once (e.g. a
        // NO for a message over its size limit), in which case the bytes must not be sent.
        var reply = await ReadLineAsync(timeout.Token);
        if (reply.Length == 0 || reply[0] != (byte)'+')
        {
            var untagged = new List<string>();
            var text = Encoding.Latin1.GetString(reply);
            while (!text.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                untagged.Add(text);
                text = Encoding.Latin1.GetString(await ReadLineAsync(timeout.Token));
            }

            return ParseTagged(tag, text, untagged);
        }

        await WriteAsync(message, timeout.Token);
        await WriteAsync("\r\n"u8.ToArray(), timeout.Token);
        return await ReadResponseAsync(tag, timeout.Token);
    }

    /// <summary>RFC 3501 date-time: "dd-Mon-yyyy HH:mm:ss +hhmm", in the value's own offset.</summary>
    public static string FormatInternalDate(DateTimeOffset value)
    {
        var offset = value.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        return value.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
            + $"{sign}{abs.Hours:00}{abs.Minutes:00}";
    }

    /// <summary>An IMAP quoted string; throws for what a quoted string cannot carry (CR, LF, non-ASCII).</summary>
    public static string Quote(string value)
    {
        if (value.Any(c => c is '\r' or '\n' or '\0' || c > 0x7e))
        {
            throw new ArgumentException(
                $"'{value}' cannot be sent as a quoted string (CR, LF, NUL or non-ASCII; use modified UTF-7 for mailbox names).",
                nameof(value));
        }

        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Sends LOGOUT if the connection still works, then closes it.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_tcp.Connected)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var tag = NextTag();
                await WriteAsync(Encoding.ASCII.GetBytes($"{tag} LOGOUT\r\n"), timeout.Token);
                await ReadResponseAsync(tag, timeout.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // Closing anyway; a failed LOGOUT says nothing about the test.
        }

        await _reader.DisposeAsync();
        _tcp.Dispose();
    }

    private static CancellationTokenSource Timeout(CancellationToken ct)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(ct);
        source.CancelAfter(DefaultTimeout);
        return source;
    }

    private string NextTag() => "r" + (++_tag).ToString(CultureInfo.InvariantCulture);

    private async Task WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        await _stream.WriteAsync(bytes, ct);
        await _stream.FlushAsync(ct);
    }

    private async Task<RawImapResponse> ReadResponseAsync(string tag, CancellationToken ct)
    {
        var untagged = new List<string>();
        while (true)
        {
            var text = Encoding.Latin1.GetString(await ReadLineAsync(ct));

            // A response line may end in a literal ("{n}"); its bytes and the rest of the line follow.
            var length = ImapSyntax.LiteralLength(Encoding.Latin1.GetBytes(text), out _);
            while (length >= 0)
            {
                var literal = new byte[checked((int)length)];
                await _reader.ReadExactlyAsync(literal, ct);
                var rest = Encoding.Latin1.GetString(await ReadLineAsync(ct));
                text += Encoding.Latin1.GetString(literal) + rest;
                length = ImapSyntax.LiteralLength(Encoding.Latin1.GetBytes(rest), out _);
            }

            if (text.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                return ParseTagged(tag, text, untagged);
            }

            untagged.Add(text);
        }
    }

    private static RawImapResponse ParseTagged(string tag, string line, List<string> untagged)
    {
        var rest = line[(tag.Length + 1)..];
        var space = rest.IndexOf(' ', StringComparison.Ordinal);
        return space < 0
            ? new RawImapResponse(rest, "", untagged)
            : new RawImapResponse(rest[..space], rest[(space + 1)..], untagged);
    }

    /// <summary>One line without its CRLF (or bare LF); throws at end of stream.</summary>
    private async Task<byte[]> ReadLineAsync(CancellationToken ct)
    {
        var line = new List<byte>(128);
        var one = new byte[1];
        while (true)
        {
            if (await _reader.ReadAsync(one, ct) == 0)
            {
                throw new IOException($"The IMAP server closed the connection (partial line: '{Encoding.Latin1.GetString(line.ToArray())}').");
            }

            if (one[0] == (byte)'\n')
            {
                if (line.Count > 0 && line[^1] == (byte)'\r')
                {
                    line.RemoveAt(line.Count - 1);
                }

                return line.ToArray();
            }

            line.Add(one[0]);
        }
    }
}
