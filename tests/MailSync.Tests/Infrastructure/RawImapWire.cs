using System.Net.Sockets;
using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A bare IMAP connection that sends exactly the bytes a test gives and returns exactly the bytes the server sent,
/// with every read bounded in time and size: for checking what a server (a <see cref="HostileImapServer"/>) puts on
/// the wire, which a client library would parse away or choke on. Not MailSync's code, not MailKit's.
/// </summary>
public sealed class RawImapWire : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawImapWire(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>How long one read may wait for the server.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Connects (no greeting read yet).</summary>
    public static async Task<RawImapWire> ConnectAsync(string host, int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port);
            return new RawImapWire(tcp);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Latin-1: one char per byte, both ways, so any byte can be written into a test's strings.</summary>
    public static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Reads the greeting and logs in with a quoted LOGIN; throws unless both are OK.</summary>
    public async Task LoginAsync(TestUser user)
    {
        var greeting = Text(await ReadLineAsync() ?? []);
        if (!greeting.StartsWith("* OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"unexpected greeting: {greeting}");
        }

        var (_, tagged) = await CommandAsync("L0", $"LOGIN {RawImapSession.Quote(user.Name)} {RawImapSession.Quote(user.Password)}");
        if (!tagged.StartsWith("L0 OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"LOGIN refused: {tagged}");
        }
    }

    /// <summary>Sends <paramref name="text"/> as Latin-1 bytes, exactly (add CRLF yourself).</summary>
    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>
    /// Sends "<paramref name="tag"/> <paramref name="command"/>" CRLF and reads responses up to the tagged one;
    /// returns each untagged response whole (its literals and the text after them included, as Latin-1) and the tagged line.
    /// </summary>
    public async Task<(IReadOnlyList<string> Untagged, string Tagged)> CommandAsync(string tag, string command)
    {
        await SendAsync($"{tag} {command}\r\n");
        return await ReadUntilTaggedAsync(tag);
    }

    /// <summary>Reads whole responses until the one tagged <paramref name="tag"/>; see <see cref="CommandAsync"/>.</summary>
    public async Task<(IReadOnlyList<string> Untagged, string Tagged)> ReadUntilTaggedAsync(string tag)
    {
        var untagged = new List<string>();
        while (true)
        {
            var response = await ReadResponseAsync() ?? throw new IOException($"the server closed the connection before {tag} was answered");
            if (response.StartsWith(tag + " ", StringComparison.Ordinal))
            {
                return (untagged, response.TrimEnd('\r', '\n'));
            }

            untagged.Add(response.TrimEnd('\r', '\n'));
        }
    }

    /// <summary>One whole response (a line, and for each literal it announces the bytes and the next line), as Latin-1 with CRLFs; null at end of stream.</summary>
    public async Task<string?> ReadResponseAsync(int maxLineLength = 1024 * 1024)
    {
        var response = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(maxLineLength);
            if (line is null)
            {
                return response.Length == 0 ? null : throw new IOException("the server closed the connection inside a response");
            }

            var text = Text(line);
            response.Append(text);
            var literal = ImapSyntax.LiteralLength(line, out _);
            if (literal < 0)
            {
                return response.ToString();
            }

            response.Append(Text(await ReadBytesAsync(checked((int)literal))));
        }
    }

    /// <summary>The next line with its CRLF; null at end of stream; throws when it runs past <paramref name="maxLength"/> bytes.</summary>
    public async Task<byte[]?> ReadLineAsync(int maxLength = 1024 * 1024)
    {
        var line = new List<byte>();
        while (true)
        {
            var available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            var take = newline < 0 ? available.Length : newline + 1;
            if (line.Count + take > maxLength)
            {
                throw new InvalidDataException($"a line longer than {maxLength} bytes");
            }

            line.AddRange(available[..take]);
            _start += take;
            if (newline >= 0)
            {
                return [.. line];
            }

            if (!await FillAsync())
            {
                return line.Count == 0 ? null : throw new IOException("the server closed the connection inside a line");
            }
        }
    }

    /// <summary>Exactly <paramref name="count"/> bytes; throws if the stream ends first.</summary>
    public async Task<byte[]> ReadBytesAsync(int count)
    {
        var bytes = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            filled += await ReadSomeAsync(bytes.AsMemory(filled));
        }

        return bytes;
    }

    /// <summary>Whatever bytes come next (at least one), into <paramref name="destination"/>; throws at end of stream.</summary>
    public async Task<int> ReadSomeAsync(Memory<byte> destination)
    {
        if (_start == _end && !await FillAsync())
        {
            throw new EndOfStreamException("the server closed the connection");
        }

        var take = Math.Min(destination.Length, _end - _start);
        _buffer.AsMemory(_start, take).CopyTo(destination);
        _start += take;
        return take;
    }

    /// <summary>Whether the server closes (or resets) the connection within <paramref name="within"/>, discarding what it sends meanwhile.</summary>
    public async Task<bool> ClosesAsync(TimeSpan within)
    {
        _start = _end = 0;
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (await _stream.ReadAsync(_buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException e) when (e.InnerException is SocketException)
        {
            return true;
        }
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> FillAsync()
    {
        _start = _end = 0;
        using var timeout = new CancellationTokenSource(ReadTimeout);
        try
        {
            _end = await _stream.ReadAsync(_buffer, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"the server sent nothing for {ReadTimeout.TotalSeconds} s");
        }

        return _end > 0;
    }
}
