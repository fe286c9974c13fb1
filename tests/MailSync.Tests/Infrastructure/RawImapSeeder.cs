using System.Globalization;
using System.Net.Sockets;
using System.Text;
using MailKit;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A deliberately tiny IMAP client (LOGIN, CREATE, SUBSCRIBE, APPEND, LOGOUT over a plain
/// TcpClient) for putting test messages on a server. It shares no code with MailSync or
/// MailKit's APPEND, so a seeded message is exactly the given bytes as sent on the wire: no
/// re-serialisation, no added final CRLF. What the server then stores is the server's business
/// (Courier, for one, normalises line ends; see CourierServerTests).
/// One instance is one logged-in connection; not thread-safe.
/// </summary>
public sealed class RawImapSeeder : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly TcpClient _tcp;
    private NetworkStream? _connected;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _bufferStart;
    private int _bufferEnd;
    private int _tagCounter;
    private bool _loggedOut;

    private RawImapSeeder(TcpClient tcp)
    {
        _tcp = tcp;
    }

    private NetworkStream Stream => _connected ??= _tcp.GetStream();

    /// <summary>The server's greeting line, without CRLF.</summary>
    public string Greeting { get; private set; } = "";

    /// <summary>Untagged lines the server sent so far (e.g. Courier's "* OK [ALERT] ..."), for assertions and diagnostics.</summary>
    public List<string> UntaggedLines { get; } = [];

    /// <summary>
    /// Connects, reads the greeting and logs in with the LOGIN command (user name and password
    /// must be plain ASCII without quotes or backslashes, as <see cref="TestUser"/>s are).
    /// Throws <see cref="InvalidOperationException"/> when the server says anything but OK.
    /// </summary>
    public static async Task<RawImapSeeder> ConnectAsync(string host, int port, TestUser user, CancellationToken ct = default)
    {
        var tcp = new TcpClient();
        var seeder = new RawImapSeeder(tcp);
        try
        {
            using var timeout = Timeout(ct);
            await tcp.ConnectAsync(host, port, timeout.Token);
            var greeting = await seeder.ReadResponseLineAsync(timeout.Token);
            seeder.Greeting = greeting;
            if (!greeting.StartsWith("* OK", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Unexpected IMAP greeting: {greeting}");
            }

            await seeder.CommandAsync($"LOGIN {Quote(user.Name)} {Quote(user.Password)}", ct);
            return seeder;
        }
        catch
        {
            await seeder.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// CREATE then SUBSCRIBE <paramref name="folder"/> (full name with the server's separator).
    /// A NO to CREATE is accepted when the folder already exists; anything else throws.
    /// INBOX is left alone.
    /// </summary>
    public async Task EnsureFolderAsync(string folder, CancellationToken ct = default)
    {
        if (string.Equals(folder, "INBOX", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var (status, text) = await CommandRawAsync($"CREATE {Quote(folder)}", ct);
        if (status != "OK")
        {
            // Servers word "already exists" differently; LIST is the portable check.
            var before = UntaggedLines.Count;
            var (listStatus, _) = await CommandRawAsync($"LIST \"\" {Quote(folder)}", ct);
            var listed = listStatus == "OK" && UntaggedLines.Skip(before).Any(l =>
                l.StartsWith("* LIST ", StringComparison.Ordinal)
                && (l.EndsWith(" " + Quote(folder), StringComparison.Ordinal) || l.EndsWith(" " + folder, StringComparison.Ordinal)));
            if (!listed)
            {
                throw new InvalidOperationException($"CREATE {folder} failed: {status} {text}");
            }
        }

        await CommandAsync($"SUBSCRIBE {Quote(folder)}", ct);
    }

    /// <summary>
    /// APPENDs exactly <paramref name="rawMessage"/> (a synchronising literal of its length) to
    /// <paramref name="folder"/> with the given flags (\Recent is ignored), keywords and
    /// INTERNALDATE. Returns the UID from the APPENDUID response code, or null when the server
    /// sent none (no UIDPLUS).
    /// </summary>
    public async Task<UniqueId?> AppendAsync(
        string folder, byte[] rawMessage, MessageFlags flags, IReadOnlyList<string> keywords, DateTimeOffset internalDate,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(rawMessage);
        ArgumentNullException.ThrowIfNull(keywords);
        var flagList = FormatFlags(flags, keywords);
        var tag = NextTag();
        var command = $"{tag} APPEND {Quote(folder)} ({flagList}) \"{FormatDate(internalDate)}\" {{{rawMessage.Length}}}\r\n";

        using var timeout = Timeout(ct);
        await Stream.WriteAsync(Encoding.ASCII.GetBytes(command), timeout.Token);
        while (true)
        {
            var line = await ReadResponseLineAsync(timeout.Token);
            if (line.StartsWith('+'))
            {
                break;
            }

            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"APPEND to {folder} refused before the literal: {line}");
            }

            UntaggedLines.Add(line);
        }

        await Stream.WriteAsync(rawMessage, timeout.Token);
        await Stream.WriteAsync("\r\n"u8.ToArray(), timeout.Token);
        var (status, text) = await ReadTaggedAsync(tag, timeout.Token);
        if (status != "OK")
        {
            throw new InvalidOperationException($"APPEND to {folder} failed: {status} {text}");
        }

        // "[APPENDUID <uidvalidity> <uid>]" (RFC 4315); a single message gets a single UID.
        const string marker = "[APPENDUID ";
        var at = text.IndexOf(marker, StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return null;
        }

        var parts = text[(at + marker.Length)..].Split([' ', ']'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2
            && uint.TryParse(parts[0], CultureInfo.InvariantCulture, out var validity)
            && uint.TryParse(parts[1], CultureInfo.InvariantCulture, out var uid)
            ? new UniqueId(validity, uid)
            : throw new InvalidOperationException($"Unparsable APPENDUID in: {text}");
    }

    /// <summary>
    /// Sends one command line (no literals) and returns the tagged status ("OK", "NO", "BAD") and
    /// the rest of its line; untagged responses land in <see cref="UntaggedLines"/>.
    /// </summary>
    public Task<(string Status, string Text)> SendAsync(string command, CancellationToken ct = default) => CommandRawAsync(command, ct);

    /// <summary>Sends LOGOUT (best effort) and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_loggedOut && _tcp.Connected)
        {
            _loggedOut = true;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await CommandRawAsync("LOGOUT", timeout.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException)
            {
                // The connection goes away either way.
            }
        }

        _tcp.Dispose();
    }

    /// <summary>The APPEND flag list: system flags from <paramref name="flags"/> plus keywords, which must be IMAP atoms.</summary>
    public static string FormatFlags(MessageFlags flags, IReadOnlyList<string> keywords)
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
            {
                throw new ArgumentException($"'{keyword}' is not a valid IMAP keyword atom.", nameof(keywords));
            }

            parts.Add(keyword);
        }

        return string.Join(' ', parts);
    }

    /// <summary>RFC 3501 date-time ("01-Feb-2020 10:11:12 +0100"), keeping the offset given.</summary>
    public static string FormatDate(DateTimeOffset date)
    {
        var offset = date.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        return date.ToString("dd-MMM-yyyy HH:mm:ss", CultureInfo.InvariantCulture)
            + $" {sign}{abs.Hours:00}{abs.Minutes:00}";
    }

    private static string Quote(string value)
    {
        if (value.Any(c => c is '"' or '\\' or '\r' or '\n' || c >= 0x7f))
        {
            // Non-ASCII would need modified UTF-7 (folder names) or a literal; seeding needs neither.
            throw new ArgumentException($"'{value}' needs escaping this seeder does not do; use plain ASCII.", nameof(value));
        }

        return "\"" + value + "\"";
    }

    private static CancellationTokenSource Timeout(CancellationToken ct)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(ct);
        source.CancelAfter(DefaultTimeout);
        return source;
    }

    private string NextTag() => "s" + (++_tagCounter).ToString(CultureInfo.InvariantCulture);

    private async Task CommandAsync(string command, CancellationToken ct)
    {
        var (status, text) = await CommandRawAsync(command, ct);
        if (status != "OK")
        {
            // Never echo a LOGIN line: it carries the password.
            var shown = command.StartsWith("LOGIN ", StringComparison.Ordinal) ? "LOGIN" : command;
            throw new InvalidOperationException($"IMAP {shown} failed: {status} {text}");
        }
    }

    private async Task<(string Status, string Text)> CommandRawAsync(string command, CancellationToken ct)
    {
        var tag = NextTag();
        using var timeout = Timeout(ct);
        await Stream.WriteAsync(Encoding.ASCII.GetBytes($"{tag} {command}\r\n"), timeout.Token);
        return await ReadTaggedAsync(tag, timeout.Token);
    }

    private async Task<(string Status, string Text)> ReadTaggedAsync(string tag, CancellationToken ct)
    {
        while (true)
        {
            var line = await ReadResponseLineAsync(ct);
            if (line.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                var rest = line[(tag.Length + 1)..];
                var space = rest.IndexOf(' ');
                return space < 0 ? (rest, "") : (rest[..space], rest[(space + 1)..]);
            }

            UntaggedLines.Add(line);
        }
    }

    /// <summary>
    /// One response line without its CRLF; a literal announced at the end of a line ({n}) is read
    /// and kept in the returned text (as Latin-1), so it cannot be mistaken for a tagged response.
    /// </summary>
    private async Task<string> ReadResponseLineAsync(CancellationToken ct)
    {
        var text = new StringBuilder();
        while (true)
        {
            var line = await ReadLineBytesAsync(ct);
            var part = Encoding.Latin1.GetString(line);
            text.Append(part);
            var open = part.LastIndexOf('{');
            if (!part.EndsWith('}') || open < 0
                || !int.TryParse(part.AsSpan(open + 1, part.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                return text.ToString();
            }

            var literal = new byte[length];
            for (var read = 0; read < length;)
            {
                read += await ReadSomeAsync(literal.AsMemory(read), ct);
            }

            text.Append("\r\n").Append(Encoding.Latin1.GetString(literal));
        }
    }

    private async Task<byte[]> ReadLineBytesAsync(CancellationToken ct)
    {
        var line = new List<byte>();
        while (true)
        {
            if (_bufferStart == _bufferEnd)
            {
                _bufferStart = 0;
                _bufferEnd = await Stream.ReadAsync(_buffer, ct);
                if (_bufferEnd == 0)
                {
                    throw new IOException("The IMAP server closed the connection.");
                }
            }

            var b = _buffer[_bufferStart++];
            if (b == '\n')
            {
                if (line.Count > 0 && line[^1] == '\r')
                {
                    line.RemoveAt(line.Count - 1);
                }

                return [.. line];
            }

            line.Add(b);
        }
    }

    private async Task<int> ReadSomeAsync(Memory<byte> target, CancellationToken ct)
    {
        if (_bufferStart == _bufferEnd)
        {
            var n = await Stream.ReadAsync(target, ct);
            return n > 0 ? n : throw new IOException("The IMAP server closed the connection inside a literal.");
        }

        var count = Math.Min(target.Length, _bufferEnd - _bufferStart);
        _buffer.AsMemory(_bufferStart, count).CopyTo(target);
        _bufferStart += count;
        return count;
    }
}
