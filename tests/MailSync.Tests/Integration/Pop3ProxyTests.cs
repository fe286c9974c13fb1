using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// The test POP3 proxy against the real Dovecot: byte-faithful when no fault is set, and each fault as
/// specified. The exception assertions also record how MailKit 4.18 reports each fault.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class Pop3ProxyTests(DovecotFixture fixture)
{
    private const string Refusal = "-ERR [SYS/TEMP] try later";
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(5);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Pass_through_is_byte_identical_to_direct_with_pipelined_retr()
    {
        var user = await Server.CreateUserAsync("proxy-pass");
        var seeded = Synthetic.Messages(30, seed: 5).Append(DotMessage()).ToList();
        await Server.SeedAsync(user, "INBOX", seeded);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        var maxRetrInFlight = 0;
        proxy.OnClientCommand = command =>
        {
            if (command.Verb == "RETR")
                maxRetrInFlight = Math.Max(maxRetrInFlight, command.InFlight);
            return Pop3ProxyAction.Continue;
        };

        using var direct = await ConnectAsync(Server.Pop3Port, user);
        using var proxied = await ConnectAsync(proxy.Port, user);

        // Only STLS is taken away: the proxy is plain text only.
        Assert.True(direct.Capabilities.HasFlag(Pop3Capabilities.StartTLS));
        Assert.Equal(direct.Capabilities & ~Pop3Capabilities.StartTLS, proxied.Capabilities);
        Assert.True(proxied.Capabilities.HasFlag(Pop3Capabilities.Pipelining | Pop3Capabilities.UIDL | Pop3Capabilities.Top));
        Assert.Equal(seeded.Count, proxied.Count);
        Assert.Equal(await direct.GetMessageUidsAsync(), await proxied.GetMessageUidsAsync());
        Assert.Equal(await direct.GetMessageSizesAsync(), await proxied.GetMessageSizesAsync());

        var viaProxy = await ReadAllAsync(proxied);
        Assert.Equal(await ReadAllAsync(direct), viaProxy);
        Assert.Equal(seeded.Select(m => m.Raw), viaProxy);
        Assert.True(maxRetrInFlight > 1, $"MailKit should pipeline RETR through the proxy; max in flight was {maxRetrInFlight}");
        Assert.Equal(seeded.Count, proxy.RetrCount);
    }

    [Fact]
    public async Task Large_message_with_lines_longer_than_the_read_buffer_relays_intact()
    {
        var user = await Server.CreateUserAsync("proxy-large");
        var body = new StringBuilder();
        for (var i = 0; i < 8; i++)
        {
            // 150 KB lines (beyond the proxy's 64 KB read buffer), each followed by dot-stuffed lines.
            body.Append('.').Append((char)('a' + i), 150_000).Append("\r\n.\r\n..\r\n");
        }

        var large = new SeedMessage(
            Encoding.ASCII.GetBytes($"From: a@example.org\r\nSubject: large\r\n\r\n{body}end\r\n"),
            new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
            MessageFlags.None,
            []);
        await Server.SeedAsync(user, "INBOX", [large, DotMessage()]);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        using var client = await ConnectAsync(proxy.Port, user);

        var relayed = await ReadAllAsync(client);

        Assert.Equal(2, relayed.Count);
        // SequenceEqual: Assert.Equal on megabyte arrays takes seconds.
        Assert.True(large.Raw.AsSpan().SequenceEqual(relayed[0]), "the large message changed on its way through the proxy");
        Assert.Equal(DotMessage().Raw, relayed[1]);
        Assert.Equal(2, proxy.RetrCount);
    }

    [Fact]
    public async Task HideUidl_removes_the_capability_and_fails_uidl_while_list_retr_and_top_work()
    {
        var user = await Server.CreateUserAsync("proxy-nouidl");
        var seeded = Synthetic.Messages(3, seed: 6).ToList();
        await Server.SeedAsync(user, "INBOX", seeded);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.HideUidl = true;
        var log = new MemoryStream();
        using var client = new Pop3Client(new ProtocolLogger(log, leaveOpen: true)) { Timeout = (int)ClientTimeout.TotalMilliseconds };
        await client.ConnectAsync(proxy.Host, proxy.Port, SecureSocketOptions.None);
        await client.AuthenticateAsync(user.Name, user.Password);

        Assert.False(client.Capabilities.HasFlag(Pop3Capabilities.UIDL));
        Assert.True(client.Capabilities.HasFlag(Pop3Capabilities.Pipelining | Pop3Capabilities.Top));
        await Assert.ThrowsAsync<NotSupportedException>(() => client.GetMessageUidsAsync());
        await Assert.ThrowsAsync<NotSupportedException>(() => client.GetMessageUidAsync(0));
        // Without UIDL in CAPA, MailKit probes once with "UIDL 1" after login; the server's -ERR (to the
        // rewritten command) makes MailKit throw NotSupportedException from then on, without asking again.
        var transcript = Encoding.ASCII.GetString(log.ToArray());
        Assert.Contains("C: UIDL 1\r\nS: -ERR Unknown command: XUIDL\r\n", transcript, StringComparison.Ordinal);
        Assert.Single(transcript.Split("C: UIDL").Skip(1));

        Assert.Equal(seeded.Select(m => m.Raw.Length), await client.GetMessageSizesAsync());
        Assert.Equal("Synthetic 2", (await client.GetMessageAsync(2)).Subject);
        Assert.Equal("Synthetic 1", (await client.GetMessageHeadersAsync(1))[MimeKit.HeaderId.Subject]);
        await client.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task HideUidl_answers_pipelined_commands_in_order_and_switches_at_runtime()
    {
        var user = await Server.CreateUserAsync("proxy-raw");
        await Server.SeedAsync(user, "INBOX", Synthetic.Messages(2, seed: 8));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.HideUidl = true;
        using var raw = await RawPop3.ConnectAsync(proxy.Port);
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        await raw.SendAsync($"USER {user.Name}\r\nPASS {user.Password}\r\n");
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        Assert.StartsWith("+OK", await raw.ReadLineAsync());

        await raw.SendAsync("UIDL\r\nUIDL 1\r\nLIST\r\nCAPA\r\nuidl\r\nSTAT\r\n");

        Assert.StartsWith("-ERR", await raw.ReadLineAsync());
        Assert.StartsWith("-ERR", await raw.ReadLineAsync());
        var list = await raw.ReadMultiLineAsync();
        Assert.Equal(3, list.Count); // status and two messages
        var capa = await raw.ReadMultiLineAsync();
        Assert.Contains("TOP", capa);
        Assert.DoesNotContain("UIDL", capa);
        Assert.DoesNotContain("STLS", capa);
        Assert.StartsWith("-ERR", await raw.ReadLineAsync());
        Assert.StartsWith("+OK 2 ", await raw.ReadLineAsync());

        proxy.HideUidl = false;
        await raw.SendAsync("CAPA\r\nUIDL\r\n");
        Assert.Contains("UIDL", await raw.ReadMultiLineAsync());
        Assert.Equal(3, (await raw.ReadMultiLineAsync()).Count);
    }

    [Fact]
    public async Task Sasl_continuations_and_bare_auth_pass_through_and_stls_is_refused()
    {
        var user = await Server.CreateUserAsync("proxy-sasl");
        await Server.SeedAsync(user, "INBOX", Synthetic.Messages(2, seed: 9));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        using var raw = await RawPop3.ConnectAsync(proxy.Port);
        Assert.StartsWith("+OK", await raw.ReadLineAsync());

        // A bare AUTH lists mechanisms as a multi-line response; pipelined with more behind it.
        // STLS goes to the server as an unknown command: the proxy speaks plain text only.
        await raw.SendAsync("AUTH\r\nCAPA\r\nSTLS\r\n");
        Assert.Equal(["+OK", "PLAIN", "LOGIN"], await raw.ReadMultiLineAsync());
        var capa = await raw.ReadMultiLineAsync();
        Assert.Contains("SASL PLAIN LOGIN", capa);
        Assert.DoesNotContain("STLS", capa);
        Assert.StartsWith("-ERR", await raw.ReadLineAsync());

        // AUTH without initial response: the "+ " challenge, then the client's SASL line, then +OK.
        await raw.SendAsync("AUTH PLAIN\r\n");
        Assert.Equal("+ ", await raw.ReadLineAsync());
        await raw.SendAsync(Convert.ToBase64String(Encoding.ASCII.GetBytes($"\0{user.Name}\0{user.Password}")) + "\r\n");
        Assert.StartsWith("+OK", await raw.ReadLineAsync());

        await raw.SendAsync("STAT\r\nLIST\r\nQUIT\r\n");
        Assert.StartsWith("+OK 2 ", await raw.ReadLineAsync());
        Assert.Equal(3, (await raw.ReadMultiLineAsync()).Count);
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        Assert.Null(await raw.TryReadLineAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RefuseNextLogins_refuses_the_first_login_with_the_exact_line_then_lets_the_next_in(bool sasl)
    {
        var user = await Server.CreateUserAsync("proxy-refuse");
        await Server.SeedAsync(user, "INBOX", Synthetic.Messages(2, seed: 10));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.RefuseNextLogins(1, Refusal);

        var log = new MemoryStream();
        using (var refused = new Pop3Client(new ProtocolLogger(log, leaveOpen: true)) { Timeout = (int)ClientTimeout.TotalMilliseconds })
        {
            await refused.ConnectAsync(proxy.Host, proxy.Port, SecureSocketOptions.None);
            if (!sasl)
                refused.AuthenticationMechanisms.Clear(); // USER/PASS instead of AUTH PLAIN

            var error = await Record.ExceptionAsync(() => refused.AuthenticateAsync(user.Name, user.Password));

            // MailKit 4.18 keeps the server's text out of the exception: AUTH PLAIN's -ERR makes it try
            // AUTH LOGIN on the closed connection (Pop3ProtocolException "unexpectedly disconnected");
            // PASS's -ERR becomes AuthenticationException "Authentication failed.". Only the protocol
            // log shows the line.
            Assert.IsType(sasl ? typeof(Pop3ProtocolException) : typeof(AuthenticationException), error);
            Assert.DoesNotContain("try later", error.Message, StringComparison.Ordinal);
            Assert.Contains($"S: {Refusal}\r\n", Encoding.ASCII.GetString(log.ToArray()), StringComparison.Ordinal);
        }

        using var accepted = await ConnectAsync(proxy.Port, user);
        Assert.True(accepted.IsAuthenticated);
        Assert.Equal(2, accepted.Count);
        Assert.Equal(2, proxy.ConnectionCount);
        Assert.Equal(1, proxy.RefusedLogins);
    }

    [Fact]
    public async Task RefuseNextLogins_answers_auth_itself_after_earlier_responses_and_closes()
    {
        var user = await Server.CreateUserAsync("proxy-refuse-raw");
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.RefuseNextLogins(1, Refusal);
        using var raw = await RawPop3.ConnectAsync(proxy.Port);
        Assert.StartsWith("+OK", await raw.ReadLineAsync());

        // Pipelined: CAPA and USER are forwarded and answered first; AUTH never reaches the server.
        await raw.SendAsync($"CAPA\r\nUSER {user.Name}\r\nAUTH PLAIN\r\nNOOP\r\n");

        Assert.Contains("USER", await raw.ReadMultiLineAsync());
        Assert.StartsWith("+OK", await raw.ReadLineAsync());
        Assert.Equal(Refusal, await raw.ReadLineAsync());
        Assert.Null(await raw.TryReadLineAsync());
        Assert.Equal(1, proxy.RefusedLogins);
    }

    [Fact]
    public async Task CutAfterRetr_resets_the_connection_right_after_the_nth_retr_response()
    {
        var user = await Server.CreateUserAsync("proxy-cut");
        var seeded = Synthetic.Messages(4, seed: 12).ToList();
        await Server.SeedAsync(user, "INBOX", seeded);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.CutAfterRetr(2);
        using var client = await ConnectAsync(proxy.Port, user);

        Assert.Equal(seeded[0].Raw, await ReadAsync(client, 0));
        Assert.Equal(seeded[1].Raw, await ReadAsync(client, 1));
        var error = await Record.ExceptionAsync(() => ReadAsync(client, 2));

        // A TCP reset: MailKit surfaces the socket error as IOException ("Connection reset by peer").
        var io = Assert.IsType<IOException>(error);
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(io.InnerException).SocketErrorCode);
        Assert.False(client.IsConnected);
        Assert.Equal(2, proxy.RetrCount);

        // One cut only: the next connection reads on.
        using var again = await ConnectAsync(proxy.Port, user);
        Assert.Equal(seeded[2].Raw, await ReadAsync(again, 2));
        Assert.Equal(2, proxy.ConnectionCount);
    }

    [Fact]
    public async Task CutAfterRetr_inside_a_pipelined_batch_fails_the_batch()
    {
        var user = await Server.CreateUserAsync("proxy-cut-batch");
        await Server.SeedAsync(user, "INBOX", Synthetic.Messages(6, seed: 13));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.CutAfterRetr(3);
        using var client = await ConnectAsync(proxy.Port, user);

        await Assert.ThrowsAsync<IOException>(() => client.GetStreamsAsync(0, 6));

        Assert.Equal(3, proxy.RetrCount);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task CutNow_and_a_command_hook_reset_connections()
    {
        var user = await Server.CreateUserAsync("proxy-cutnow");
        await Server.SeedAsync(user, "INBOX", Synthetic.Messages(1, seed: 14));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        using var first = await ConnectAsync(proxy.Port, user);

        proxy.CutNow();
        await Assert.ThrowsAsync<IOException>(() => first.NoOpAsync());

        proxy.OnClientCommand = command => command.Verb == "TOP" ? Pop3ProxyAction.Cut : Pop3ProxyAction.Continue;
        using var second = await ConnectAsync(proxy.Port, user);
        Assert.Equal(1, second.Count);
        await Assert.ThrowsAsync<IOException>(() => second.GetMessageHeadersAsync(0));
        Assert.False(second.IsConnected);
    }

    [Fact]
    public async Task A_throwing_hook_drops_its_connection_and_surfaces_from_dispose()
    {
        var user = await Server.CreateUserAsync("proxy-hook-bug");
        var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.OnClientCommand = command => command.Verb == "NOOP" ? throw new InvalidOperationException("hook bug") : Pop3ProxyAction.Continue;
        using var client = await ConnectAsync(proxy.Port, user);

        await Assert.ThrowsAsync<IOException>(() => client.NoOpAsync());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => proxy.DisposeAsync().AsTask());
        Assert.Equal("hook bug", error.Message);
    }

    [Fact]
    public async Task Dispose_stops_listening_and_drops_open_connections()
    {
        var user = await Server.CreateUserAsync("proxy-dispose");
        var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        using var client = await ConnectAsync(proxy.Port, user);

        await proxy.DisposeAsync();

        await Assert.ThrowsAsync<IOException>(() => client.NoOpAsync());
        using var tcp = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(proxy.Host, proxy.Port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    private async Task<Pop3Client> ConnectAsync(int port, TestUser user)
    {
        var client = new Pop3Client { Timeout = (int)ClientTimeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(Server.Host, port, SecureSocketOptions.None);
            await client.AuthenticateAsync(user.Name, user.Password);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Every message's raw bytes; MailKit pipelines the RETR commands when CAPA has PIPELINING.</summary>
    private static async Task<List<byte[]>> ReadAllAsync(Pop3Client client)
    {
        var result = new List<byte[]>();
        foreach (var stream in await client.GetStreamsAsync(0, client.Count))
        {
            using (stream)
            {
                result.Add(await ToArrayAsync(stream));
            }
        }

        return result;
    }

    private static async Task<byte[]> ReadAsync(Pop3Client client, int index)
    {
        using var stream = await client.GetStreamAsync(index);
        return await ToArrayAsync(stream);
    }

    private static async Task<byte[]> ToArrayAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>Lines that look like the terminator or need dot-stuffing, to keep the proxy honest.</summary>
    private static SeedMessage DotMessage() => new(
        Encoding.ASCII.GetBytes(
            "From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
            + ".\r\n..\r\n.\r\n\r\n. \r\n.leading\r\n...\r\nend\r\n"),
        new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
        MessageFlags.None,
        []);

    /// <summary>A bare POP3 connection, to send exactly the lines (and pipelining) a test wants.</summary>
    private sealed class RawPop3 : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly StreamReader _reader;

        private RawPop3(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            _reader = new StreamReader(_stream, Encoding.ASCII);
        }

        public static async Task<RawPop3> ConnectAsync(int port)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", port);
            return new RawPop3(tcp);
        }

        public async Task SendAsync(string lines) => await _stream.WriteAsync(Encoding.ASCII.GetBytes(lines));

        public async Task<string> ReadLineAsync() =>
            await TryReadLineAsync() ?? throw new IOException("The proxy closed the connection.");

        /// <summary>The next line, or null once the peer has closed.</summary>
        public async Task<string?> TryReadLineAsync()
        {
            using var timeout = new CancellationTokenSource(ClientTimeout);
            return await _reader.ReadLineAsync(timeout.Token);
        }

        /// <summary>Status line and body lines (still dot-stuffed), without the terminator.</summary>
        public async Task<List<string>> ReadMultiLineAsync()
        {
            var status = await ReadLineAsync();
            Assert.StartsWith("+OK", status);
            var lines = new List<string> { status };
            for (var line = await ReadLineAsync(); line != "."; line = await ReadLineAsync())
            {
                lines.Add(line);
            }

            return lines;
        }

        public void Dispose()
        {
            _reader.Dispose();
            _tcp.Dispose();
        }
    }
}
