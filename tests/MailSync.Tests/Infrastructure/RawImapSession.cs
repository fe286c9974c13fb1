using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>The tagged answer to one command: its status word, the rest of the line, and the untagged lines before it.</summary>
public sealed record RawImapResponse(string Status, string Text, IReadOnlyList<string> Untagged)
{
    public bool IsOk => Status == "OK";

    public override string ToString() => $"{Status} {Text}";
}

/// <summary>
/// A hand-written IMAP session, the one way the tests talk to a server without MailKit (Dovecot,
/// Cyrus and Courier alike): for seeding, where a message must reach the server as exactly the
/// given bytes (MailSync's own APPEND path, or MimeKit's serialiser, would make a test agree with
/// itself by construction), and for commands MailKit would rewrite or refuse. Plain connections
/// on 127.0.0.1 only; every read is bounded in time.
/// </summary>
public sealed partial class RawImapSession : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly StreamReader _reader;
    private int _tag;

    private RawImapSession(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        // Latin-1 maps every byte to the char of the same value and back, so literals survive.
        _reader = new StreamReader(_stream, Encoding.Latin1, detectEncodingFromByteOrderMarks: false, bufferSize: 1);
    }

    /// <summary>Who logged in, to open another session as the same user.</summary>
    public sealed record LoginInfo(string User, string Password);

    /// <summary>The user this session logged in as (empty before LOGIN).</summary>
    public LoginInfo Login { get; private set; } = new("", "");

    /// <summary>The server's greeting line.</summary>
    public string Greeting { get; private set; } = "";

    /// <summary>Untagged lines of the last command.</summary>
    public IReadOnlyList<string> Untagged { get; private set; } = [];

    /// <summary>Connects and reads the greeting; no LOGIN yet.</summary>
    public static async Task<RawImapSession> ConnectAsync(string host, int port, CancellationToken ct = default)
    {
        // No Nagle: each command is a few small writes that wait for an answer (with Nagle and
        // delayed ACKs, every APPEND cost 40 ms).
        var tcp = new TcpClient { NoDelay = true };
        RawImapSession? session = null;
        try
        {
            await tcp.ConnectAsync(host, port, ct);
            session = new RawImapSession(tcp);
            session.Greeting = await session.ReadLineAsync(ct);
            if (!session.Greeting.StartsWith("* OK", StringComparison.Ordinal))
                throw new InvalidOperationException($"unexpected greeting: {session.Greeting}");
            return session;
        }
        catch
        {
            if (session is not null)
                await session.DisposeAsync();
            else
                tcp.Dispose();
            throw;
        }
    }

    /// <summary>Connects and logs in; throws with the server's words when LOGIN is refused.</summary>
    public static async Task<RawImapSession> LoginAsync(string host, int port, string user, string password, CancellationToken ct = default)
    {
        var session = await ConnectAsync(host, port, ct);
        try
        {
            await session.LoginAsync(user, password, ct);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>LOGIN on this session; throws with the server's words when it is refused.</summary>
    public async Task LoginAsync(string user, string password, CancellationToken ct = default)
    {
        var answer = await CommandAsync($"LOGIN {Quote(user)} {Quote(password)}", ct);
        if (!answer.IsOk)
            throw new InvalidOperationException($"LOGIN as {user} refused: {answer}");
        Login = new LoginInfo(user, password);
    }

    /// <summary>Sends one command line without literals; returns its tagged answer.</summary>
    public async Task<RawImapResponse> CommandAsync(string command, CancellationToken ct = default)
    {
        var tag = NextTag();
        await WriteAsync(Encoding.UTF8.GetBytes($"{tag} {command}\r\n"), ct);
        return await ReadTaggedAsync(tag, ct);
    }

    /// <summary>
    /// CREATE then SUBSCRIBE <paramref name="folder"/> (a full decoded name with the server's
    /// separator). A refused CREATE is accepted when LIST shows the folder already exists. INBOX is left alone.
    /// </summary>
    public async Task EnsureFolderAsync(string folder, CancellationToken ct = default)
    {
        if (string.Equals(folder, "INBOX", StringComparison.OrdinalIgnoreCase))
            return;
        var name = Quote(ModifiedUtf7.Encode(folder));
        var created = await CommandAsync($"CREATE {name}", ct);
        if (!created.IsOk)
        {
            // Servers word "already exists" differently; LIST is the portable check.
            var listed = await CommandAsync($"LIST \"\" {name}", ct);
            if (!listed.IsOk || !listed.Untagged.Any(l => l.StartsWith("* LIST ", StringComparison.Ordinal)))
                throw new InvalidOperationException($"CREATE {folder} failed: {created}");
        }

        var subscribed = await CommandAsync($"SUBSCRIBE {name}", ct);
        if (!subscribed.IsOk)
            throw new InvalidOperationException($"SUBSCRIBE {folder} failed: {subscribed}");
    }

    /// <summary>
    /// APPENDs <paramref name="raw"/> unchanged to <paramref name="folder"/> (a decoded name; it is
    /// sent in modified UTF-7). With <paramref name="binary"/> the literal is a literal8 (RFC 3516).
    /// Returns the APPENDUID's UID, or null when the server gave none; throws on NO or BAD.
    /// </summary>
    public async Task<UniqueId?> AppendAsync(
        string folder, byte[] raw, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset internalDate, bool binary = false, CancellationToken ct = default)
    {
        var (uid, refusal) = await TryAppendAsync(folder, raw, flags, keywords, internalDate, binary, ct);
        return refusal is null ? uid : throw new InvalidOperationException($"APPEND to {folder} refused: {refusal}");
    }

    /// <summary>As <see cref="AppendAsync"/>, but a NO or BAD comes back as the server's line (after the tag) instead of an exception.</summary>
    public async Task<(UniqueId? Uid, string? Refusal)> TryAppendAsync(
        string folder, byte[] raw, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset internalDate, bool binary = false, CancellationToken ct = default)
    {
        var answer = await AppendRawAsync(folder, FormatFlags(flags, keywords), internalDate, raw, binary, ct);
        if (!answer.IsOk)
            return (null, answer.ToString());
        var uid = AppendUid().Match(answer.Text);
        return (uid.Success
            ? new UniqueId(uint.Parse(uid.Groups[1].Value, CultureInfo.InvariantCulture), uint.Parse(uid.Groups[2].Value, CultureInfo.InvariantCulture))
            : null, null);
    }

    /// <summary>
    /// The APPEND itself: <paramref name="flagList"/> is the inside of the flag list as sent
    /// ("\Seen $Label1"), the literal is a synchronizing one of exactly <paramref name="raw"/>.
    /// Returns the tagged answer, also when the server answers before the literal.
    /// </summary>
    public async Task<RawImapResponse> AppendRawAsync(
        string folder, string flagList, DateTimeOffset internalDate, ReadOnlyMemory<byte> raw, bool binary = false, CancellationToken ct = default)
    {
        var tag = NextTag();
        var line = $"{tag} APPEND {Quote(ModifiedUtf7.Encode(folder))} ({flagList}) \"{FormatDate(internalDate)}\" {(binary ? "~" : "")}{{{raw.Length}}}\r\n";
        await WriteAsync(Encoding.ASCII.GetBytes(line), ct);
        var untagged = new List<string>();
        while (true)
        {
            var go = await ReadLineAsync(ct);
            if (go.StartsWith('+'))
                break;
            if (go.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                Untagged = untagged;
                return Parse(go, tag, untagged);
            }

            untagged.Add(go);
        }

        var literal = new byte[raw.Length + 2];
        raw.CopyTo(literal);
        literal[^2] = (byte)'\r';
        literal[^1] = (byte)'\n';
        await WriteAsync(literal, ct);
        var answer = await ReadTaggedAsync(tag, ct);
        Untagged = [.. untagged, .. answer.Untagged];
        return answer with { Untagged = Untagged };
    }

    /// <summary>
    /// The message <paramref name="uid"/> of <paramref name="folder"/> as <c>BINARY.PEEK[]</c> (RFC 3516)
    /// serves it: unlike <c>BODY[]</c>, where Dovecot shows a NUL as 0x80, NUL bytes come back as
    /// they are stored (a message without Content-Transfer-Encoding is not decoded).
    /// </summary>
    public Task<byte[]> FetchBinaryAsync(string folder, uint uid, CancellationToken ct = default) => FetchAsync(folder, uid, "BINARY.PEEK[]", ct);

    /// <summary>The message <paramref name="uid"/> of <paramref name="folder"/> as the server serves <paramref name="item"/> (e.g. "BODY.PEEK[]").</summary>
    public async Task<byte[]> FetchAsync(string folder, uint uid, string item, CancellationToken ct = default)
    {
        var selected = await CommandAsync($"EXAMINE {Quote(ModifiedUtf7.Encode(folder))}", ct);
        if (!selected.IsOk)
            throw new InvalidOperationException($"EXAMINE {folder}: {selected}");
        var tag = NextTag();
        await WriteAsync(Encoding.ASCII.GetBytes($"{tag} UID FETCH {uid.ToString(CultureInfo.InvariantCulture)} ({item})\r\n"), ct);
        byte[]? body = null;
        while (true)
        {
            var line = await ReadLineAsync(ct);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
                return line.StartsWith(tag + " OK", StringComparison.Ordinal) && body is not null
                    ? body
                    : throw new InvalidOperationException($"UID FETCH {uid} in {folder}: {line}");
            var literal = LiteralAtEnd().Match(line);
            if (!literal.Success)
                continue;
            var chars = new char[int.Parse(literal.Groups[1].Value, CultureInfo.InvariantCulture)];
            var read = 0;
            while (read < chars.Length)
            {
                var n = await _reader.ReadAsync(chars.AsMemory(read), ct).AsTask().WaitAsync(ReadTimeout, ct);
                if (n == 0)
                    throw new IOException("the server closed the connection inside a literal");
                read += n;
            }

            body = Encoding.Latin1.GetBytes(chars);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CommandAsync("LOGOUT").WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException or SocketException or ObjectDisposedException)
        {
            // Closing anyway.
        }

        _reader.Dispose();
        _tcp.Dispose();
    }

    /// <summary>A quoted string, escaping backslash and double quote; CR and LF cannot be quoted.</summary>
    public static string Quote(string text)
    {
        if (text.Contains('\r', StringComparison.Ordinal) || text.Contains('\n', StringComparison.Ordinal))
            throw new ArgumentException("CR and LF cannot go into a quoted string", nameof(text));
        return "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>The APPEND flag list: system flags from <paramref name="flags"/> plus keywords, which must be IMAP atoms.</summary>
    public static string FormatFlags(MessageFlags flags, IEnumerable<string> keywords)
    {
        var parts = new List<string>();
        if (flags.HasFlag(MessageFlags.Seen)) parts.Add("\\Seen");
        if (flags.HasFlag(MessageFlags.Answered)) parts.Add("\\Answered");
        if (flags.HasFlag(MessageFlags.Flagged)) parts.Add("\\Flagged");
        if (flags.HasFlag(MessageFlags.Deleted)) parts.Add("\\Deleted");
        if (flags.HasFlag(MessageFlags.Draft)) parts.Add("\\Draft");
        foreach (var keyword in keywords)
        {
            // atom-specials (RFC 3501) and '\' (only system flags may start with it).
            if (keyword.Length == 0 || keyword.Any(c => c <= ' ' || c >= 0x7f || "(){%*\"\\]".Contains(c)))
                throw new ArgumentException($"'{keyword}' is not a valid IMAP keyword atom.", nameof(keywords));
            parts.Add(keyword);
        }

        return string.Join(' ', parts);
    }

    /// <summary>RFC 3501 date-time ("01-Feb-2020 10:11:12 +0100"), keeping the offset given.</summary>
    public static string FormatDate(DateTimeOffset date)
    {
        var offset = date.Offset.Duration();
        return date.ToString("dd-MMM-yyyy HH:mm:ss", CultureInfo.InvariantCulture)
            + $" {(date.Offset < TimeSpan.Zero ? '-' : '+')}{offset.Hours:00}{offset.Minutes:00}";
    }

    private string NextTag() => "R" + (++_tag).ToString(CultureInfo.InvariantCulture);

    private async Task WriteAsync(byte[] bytes, CancellationToken ct)
    {
        await _stream.WriteAsync(bytes, ct);
        await _stream.FlushAsync(ct);
    }

    private async Task<RawImapResponse> ReadTaggedAsync(string tag, CancellationToken ct)
    {
        var untagged = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(ct);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                Untagged = untagged;
                return Parse(line, tag, untagged);
            }

            untagged.Add(line);
        }
    }

    private static RawImapResponse Parse(string line, string tag, IReadOnlyList<string> untagged)
    {
        var rest = line[(tag.Length + 1)..];
        var space = rest.IndexOf(' ');
        return space < 0 ? new RawImapResponse(rest, "", untagged) : new RawImapResponse(rest[..space], rest[(space + 1)..], untagged);
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
        => await _reader.ReadLineAsync(ct).AsTask().WaitAsync(ReadTimeout, ct)
            ?? throw new IOException("the server closed the connection");

    [GeneratedRegex(@"~?\{(\d+)\}$")]
    private static partial Regex LiteralAtEnd();

    [GeneratedRegex(@"\[APPENDUID (\d+) (\d+)\]")]
    private static partial Regex AppendUid();
}

/// <summary>RFC 3501 §5.1.3 mailbox name encoding, for hand-written commands.</summary>
public static class ModifiedUtf7
{
    public static string Encode(string name)
    {
        var output = new StringBuilder();
        var pending = new StringBuilder();
        void Flush()
        {
            if (pending.Length == 0)
                return;
            var bytes = Encoding.BigEndianUnicode.GetBytes(pending.ToString());
            output.Append('&').Append(Convert.ToBase64String(bytes).TrimEnd('=').Replace('/', ',')).Append('-');
            pending.Clear();
        }

        foreach (var c in name)
        {
            if (c is >= (char)0x20 and <= (char)0x7e)
            {
                Flush();
                output.Append(c == '&' ? "&-" : c.ToString());
            }
            else
            {
                pending.Append(c);
            }
        }

        Flush();
        return output.ToString();
    }
}
