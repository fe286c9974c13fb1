using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A hand-written IMAP session for seeding test servers: LOGIN, then APPENDs whose literal is
/// exactly the given bytes. Seeding must not go through MailSync's own APPEND path (nor MimeKit's
/// serialiser, which adds a final newline), or a test comparing source and copy would agree with
/// itself by construction. Plain connections on 127.0.0.1 only; no literal is ever read back.
/// </summary>
public sealed partial class RawImapSession : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly StreamReader _reader;
    private int _tag;

    private RawImapSession(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new StreamReader(_stream, Encoding.Latin1, detectEncodingFromByteOrderMarks: false, bufferSize: 1);
    }

    /// <summary>Who logged in, to open another session as the same user.</summary>
    public sealed record LoginInfo(string User, string Password);

    /// <summary>The user this session logged in as.</summary>
    public LoginInfo Login { get; private set; } = new("", "");

    /// <summary>Untagged lines of the last command.</summary>
    public List<string> Untagged { get; } = [];

    /// <summary>Connects, reads the greeting and logs in; throws with the server's words when LOGIN is refused.</summary>
    public static async Task<RawImapSession> LoginAsync(string host, int port, string user, string password, CancellationToken ct = default)
    {
        // No Nagle: each command is a few small writes that wait for an answer (with Nagle and
        // delayed ACKs, every APPEND cost 40 ms).
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(host, port, ct);
        var session = new RawImapSession(tcp);
        var greeting = await session.ReadLineAsync(ct);
        if (!greeting.StartsWith("* OK", StringComparison.Ordinal))
            throw new InvalidOperationException($"unexpected greeting: {greeting}");
        var answer = await session.CommandAsync($"LOGIN {Quote(user)} {Quote(password)}", ct);
        if (!answer.Contains(" OK", StringComparison.Ordinal))
            throw new InvalidOperationException($"LOGIN refused: {answer}");
        session.Login = new LoginInfo(user, password);
        return session;
    }

    /// <summary>Sends one command line without literals; returns its tagged answer ("Mn OK …").</summary>
    public async Task<string> CommandAsync(string command, CancellationToken ct = default)
    {
        var tag = NextTag();
        await WriteAsync(Encoding.UTF8.GetBytes($"{tag} {command}\r\n"), ct);
        return await ReadTaggedAsync(tag, ct);
    }

    /// <summary>
    /// APPENDs <paramref name="raw"/> unchanged to <paramref name="folder"/> (a decoded name; it is
    /// sent in modified UTF-7). With <paramref name="binary"/> the literal is a literal8 (RFC 3516).
    /// Returns the APPENDUID's UID, or null when the server gave none; throws on NO or BAD.
    /// </summary>
    public async Task<uint?> AppendAsync(
        string folder, byte[] raw, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset internalDate, bool binary = false, CancellationToken ct = default)
    {
        var (uid, refusal) = await TryAppendAsync(folder, raw, flags, keywords, internalDate, binary, ct);
        return refusal is null ? uid : throw new InvalidOperationException($"APPEND to {folder} refused: {refusal}");
    }

    /// <summary>As <see cref="AppendAsync"/>, but a NO or BAD comes back as the server's line instead of an exception.</summary>
    public async Task<(uint? Uid, string? Refusal)> TryAppendAsync(
        string folder, byte[] raw, MessageFlags flags, IEnumerable<string> keywords, DateTimeOffset internalDate, bool binary = false, CancellationToken ct = default)
    {
        var tag = NextTag();
        var flagList = string.Join(' ', FlagNames(flags).Concat(keywords));
        var date = internalDate.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
            + (internalDate.Offset < TimeSpan.Zero ? "-" : "+") + internalDate.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        var line = $"{tag} APPEND {Quote(ModifiedUtf7.Encode(folder))} ({flagList}) \"{date}\" {(binary ? "~" : "")}{{{raw.Length}}}\r\n";
        await WriteAsync(Encoding.ASCII.GetBytes(line), ct);
        var go = await ReadLineAsync(ct);
        if (go.StartsWith(tag + " ", StringComparison.Ordinal))
            return (null, go[(tag.Length + 1)..]);
        if (!go.StartsWith('+'))
            throw new InvalidOperationException($"APPEND to {folder}: unexpected answer before the literal: {go}");
        await WriteAsync([.. raw, (byte)'\r', (byte)'\n'], ct);
        var answer = await ReadTaggedAsync(tag, ct);
        if (!answer.StartsWith(tag + " OK", StringComparison.Ordinal))
            return (null, answer[(tag.Length + 1)..]);
        var uid = AppendUid().Match(answer);
        return (uid.Success ? uint.Parse(uid.Groups[1].Value, CultureInfo.InvariantCulture) : null, null);
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
        if (!selected.Contains(" OK", StringComparison.Ordinal))
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
                var n = await _reader.ReadAsync(chars.AsMemory(read), ct);
                if (n == 0)
                    throw new IOException("the server closed the connection inside a literal");
                read += n;
            }

            // Latin-1 maps every byte to the char of the same value and back.
            body = Encoding.Latin1.GetBytes(chars);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CommandAsync("LOGOUT").WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException or SocketException)
        {
            // Closing anyway.
        }

        _reader.Dispose();
        _tcp.Dispose();
    }

    /// <summary>A quoted string, escaping backslash and double quote.</summary>
    public static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static IEnumerable<string> FlagNames(MessageFlags flags)
    {
        if (flags.HasFlag(MessageFlags.Seen)) yield return "\\Seen";
        if (flags.HasFlag(MessageFlags.Answered)) yield return "\\Answered";
        if (flags.HasFlag(MessageFlags.Flagged)) yield return "\\Flagged";
        if (flags.HasFlag(MessageFlags.Deleted)) yield return "\\Deleted";
        if (flags.HasFlag(MessageFlags.Draft)) yield return "\\Draft";
    }

    private string NextTag() => "R" + (++_tag).ToString(CultureInfo.InvariantCulture);

    private async Task WriteAsync(byte[] bytes, CancellationToken ct)
    {
        await _stream.WriteAsync(bytes, ct);
        await _stream.FlushAsync(ct);
    }

    private async Task<string> ReadTaggedAsync(string tag, CancellationToken ct)
    {
        Untagged.Clear();
        while (true)
        {
            var line = await ReadLineAsync(ct);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
                return line;
            Untagged.Add(line);
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
        => await _reader.ReadLineAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct)
            ?? throw new IOException("the server closed the connection");

    [GeneratedRegex(@"~?\{(\d+)\}$")]
    private static partial Regex LiteralAtEnd();

    [GeneratedRegex(@"\[APPENDUID \d+ (\d+)\]")]
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
