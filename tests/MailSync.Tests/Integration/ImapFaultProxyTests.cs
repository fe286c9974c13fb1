using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MailSync.Core.Stores;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// The test IMAP fault proxy against the real Dovecot, with a plain MailKit client: byte-faithful without
/// faults (MULTIAPPEND, megabyte literals), and every fault as specified, checked on Dovecot directly. The
/// exception assertions also record how MailKit 4.18 reports each fault.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class ImapFaultProxyTests(DovecotFixture fixture)
{
    private const int ClientTimeoutMs = 5000;
    private const string Throttled = "NO [THROTTLED] Request is throttled. Suggested Backoff Time: 1500 milliseconds";
    private static readonly TimeSpan FaultTimeout = TimeSpan.FromSeconds(5);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Pass_through_relays_a_multiappend_of_three_and_a_3_MB_fetch_byte_for_byte()
    {
        var user = await Server.CreateUserAsync("iproxy-pass");
        byte[][] raws = [MessageBytes("small", 2_000), MessageBytes("big", 3 * 1024 * 1024), MessageBytes("medium", 60_000)];
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var log = new MemoryStream();
        using var client = await ConnectAsync(proxy, user, log: log);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);

        var uids = await client.Inbox.AppendAsync(raws.Select(r => (IAppendRequest)new AppendRequest(Wrap(r), MessageFlags.Seen)).ToList());

        // One command with three literals: the proxy followed the literals and the text between them.
        Assert.Equal(3, uids.Count);
        Assert.Equal(1, proxy.CommandCount("APPEND"));
        Assert.Contains(Encoding.ASCII.GetString(log.ToArray()).Split("\r\n"), l => l.Contains("APPEND INBOX", StringComparison.Ordinal));
        for (var i = 0; i < raws.Length; i++)
        {
            using var stream = await client.Inbox.GetStreamAsync(uids[i], "");
            Assert.True(Same(raws[i], await ToArrayAsync(stream)), $"message {i} changed on its way back through the proxy");
        }

        Assert.Equal(3, proxy.CommandCount("uid fetch"));
        var stored = (await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages;
        Assert.Equal(3, stored.Count);
        Assert.All(stored.Zip(raws), pair => Assert.True(Same(pair.First.Bytes, pair.Second), "stored bytes differ"));
        await client.DisconnectAsync(quit: true);
        Assert.Equal(0, proxy.CutCount);
    }

    [Fact]
    public async Task CutDuringLogin_resets_the_login_and_the_next_connection_logs_in()
    {
        var user = await Server.CreateUserAsync("iproxy-login");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var fired = proxy.CutDuringLogin();

        using (var cut = new ImapClient { Timeout = ClientTimeoutMs })
        {
            await cut.ConnectAsync(proxy.Host, proxy.Port, SecureSocketOptions.None);
            var error = await Record.ExceptionAsync(() => cut.AuthenticateAsync(user.Name, user.Password));

            AssertReset(error);
            Assert.False(cut.IsConnected);
        }

        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        Assert.Equal(1, proxy.CommandCount("AUTHENTICATE") + proxy.CommandCount("LOGIN"));

        using var next = await ConnectAsync(proxy, user);
        await next.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(2, proxy.ConnectionCount);
        Assert.Equal(1, proxy.CutCount);
    }

    [Fact]
    public async Task CutInFetchLiteral_fails_the_body_fetch_midway_and_leaves_the_message_as_it_was()
    {
        var user = await Server.CreateUserAsync("iproxy-fetch");
        var raw = MessageBytes("fetch", 50 * 1024);
        var uid = (await Server.SeedAsync(user, "INBOX", [Seed(raw)])).Single();
        var before = (await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages.Single();
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var fired = proxy.CutInFetchLiteral();

        var error = await Record.ExceptionAsync(() => client.Inbox.GetMessageAsync(uid));

        AssertReset(error);
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        var after = (await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages.Single();
        Assert.Equal(before.Uid, after.Uid);
        Assert.Equal(before.Flags, after.Flags);
        Assert.True(Same(raw, after.Bytes));

        // One-shot: a new connection fetches the whole body.
        using var again = await ConnectAsync(proxy, user);
        await again.Inbox.OpenAsync(FolderAccess.ReadOnly);
        using var stream = await again.Inbox.GetStreamAsync(uid, "");
        Assert.True(Same(raw, await ToArrayAsync(stream)));
    }

    [Fact]
    public async Task CutInFetchLiteral_relays_the_announcing_line_and_exactly_afterBytes_of_the_literal()
    {
        var user = await Server.CreateUserAsync("iproxy-fetch-raw");
        var raw = MessageBytes("fetch-raw", 20_000);
        await Server.SeedAsync(user, "INBOX", [Seed(MessageBytes("small", 500)), Seed(raw)]);
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var imap = await RawImap.ConnectAsync(proxy.Port);
        await imap.LoginAsync(user);
        await imap.SendAsync("f1 EXAMINE INBOX\r\n");
        await imap.ReadTaggedAsync("f1");
        // Message 1's literal (under 1000 bytes) does not match; message 2's does.
        var fired = proxy.CutInFetchLiteral(afterBytes: 1000);

        await imap.SendAsync("f2 FETCH 1:2 (BODY.PEEK[])\r\n");
        var relayed = await imap.ReadAllBytesAsync();

        var announce = Encoding.ASCII.GetBytes($"* 2 FETCH (BODY[] {{{raw.Length}}}\r\n");
        var small = Encoding.ASCII.GetString(relayed).IndexOf("* 1 FETCH", StringComparison.Ordinal);
        var start = relayed.AsSpan().IndexOf(announce);
        Assert.True(start >= 0, "the line announcing the literal was not relayed");
        Assert.True(small is >= 0 && small < start, "message 1, whose literal is smaller than afterBytes, should come first");
        Assert.Equal(start + announce.Length + 1000, relayed.Length);
        Assert.True(Same(raw[..1000], relayed[(start + announce.Length)..]));
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
    }

    [Fact]
    public async Task CutInAppendLiteral_fails_the_append_and_the_server_stores_nothing()
    {
        var user = await Server.CreateUserAsync("iproxy-append-cut");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user);
        var fired = proxy.CutInAppendLiteral();

        var error = await Record.ExceptionAsync(() => client.Inbox.AppendAsync(new AppendRequest(Wrap(MessageBytes("cut", 50 * 1024)))));

        AssertReset(error);
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        Assert.Equal(1, proxy.CommandCount("APPEND"));
        Assert.Empty((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages);
    }

    [Fact]
    public async Task CutBeforeAppendOk_fails_the_append_though_the_server_stored_the_message()
    {
        var user = await Server.CreateUserAsync("iproxy-append-ok");
        var raw = MessageBytes("stored", 50 * 1024);
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user);
        var fired = proxy.CutBeforeAppendOk();

        var error = await Record.ExceptionAsync(() => client.Inbox.AppendAsync(new AppendRequest(Wrap(raw))));

        AssertReset(error);
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        var stored = Assert.Single((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages);
        Assert.True(Same(raw, stored.Bytes));
    }

    [Fact]
    public async Task CutBefore_resets_without_forwarding_the_command_and_the_server_never_sees_it()
    {
        var user = await Server.CreateUserAsync("iproxy-cut-before");
        var uid = (await Server.SeedAsync(user, "INBOX", [Seed(MessageBytes("before", 5_000))])).Single();
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var fired = proxy.CutBefore("uid store");

        var error = await Record.ExceptionAsync(() => client.Inbox.StoreAsync(uid, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Flagged) { Silent = true }));

        AssertReset(error);
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        Assert.Equal(1, proxy.CommandCount("UID STORE"));
        Assert.Equal("", Assert.Single((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages).Flags);
    }

    [Fact]
    public async Task CutBeforeOk_fails_the_command_though_the_server_did_it()
    {
        var user = await Server.CreateUserAsync("iproxy-cut-ok");
        var raw = MessageBytes("moved", 5_000);
        var uid = (await Server.SeedAsync(user, "INBOX", [Seed(raw)])).Single();
        await Server.SeedAsync(user, "Archive", []);
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var archive = await client.GetFolderAsync("Archive");
        var fired = proxy.CutBeforeOk("UID MOVE");

        var error = await Record.ExceptionAsync(() => client.Inbox.MoveToAsync(uid, archive));

        AssertReset(error);
        await fired.WaitAsync(FaultTimeout);
        Assert.Equal(1, proxy.CutCount);
        var after = await Mailbox.ReadAllAsync(Server, user);
        Assert.Empty(after["INBOX"].Messages);
        Assert.True(Same(raw, Assert.Single(after["Archive"].Messages).Bytes));
    }

    [Theory]
    [InlineData("UID FETCH")]
    [InlineData("FETCH")]
    public async Task StallOn_makes_the_client_time_out_long_before_the_stall_ends(string verb)
    {
        var user = await Server.CreateUserAsync("iproxy-stall");
        var uid = (await Server.SeedAsync(user, "INBOX", [Seed(MessageBytes("stall", 10_000))])).Single();
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var client = await ConnectAsync(proxy, user, timeoutMs: 1000);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var fired = proxy.StallOn(verb, TimeSpan.FromSeconds(5));

        var clock = Stopwatch.StartNew();
        var error = await Record.ExceptionAsync(() => verb == "FETCH" ? client.Inbox.GetMessageAsync(0) : client.Inbox.GetMessageAsync(uid));
        clock.Stop();

        // MailKit 4.18 gives up with its own TimeoutException ("Operation timed out after 1000 milliseconds").
        Assert.IsType<TimeoutException>(error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the client gave up after {clock.Elapsed}");
        Assert.True(fired.IsCompletedSuccessfully, "the stall should have begun when the command was relayed");
        Assert.Equal(1, proxy.CommandCount(verb));
        Assert.Equal(0, proxy.CutCount); // the cut comes when the stall ends
    }

    [Fact]
    public async Task StallOn_relays_nothing_of_the_response_then_cuts_when_the_stall_ends()
    {
        var user = await Server.CreateUserAsync("iproxy-stall-raw");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var raw = await RawImap.ConnectAsync(proxy.Port);
        await raw.LoginAsync(user);
        var fired = proxy.StallOn("noop", TimeSpan.FromMilliseconds(500));

        var clock = Stopwatch.StartNew();
        await raw.SendAsync("n1 NOOP\r\n");
        var rest = await raw.ReadToEndAsync();

        Assert.Empty(rest);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(3));
        Assert.True(fired.IsCompletedSuccessfully);
        Assert.Equal(1, proxy.CutCount);
    }

    [Fact]
    public async Task Answer_tagged_fails_the_append_without_storing_and_the_connection_goes_on()
    {
        var user = await Server.CreateUserAsync("iproxy-answer");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var log = new MemoryStream();
        using var client = await ConnectAsync(proxy, user, log: log);
        var fired = proxy.Answer("APPEND", Throttled);

        var error = await Assert.ThrowsAsync<ImapCommandException>(
            () => client.Inbox.AppendAsync(new AppendRequest(Wrap(MessageBytes("throttled", 50 * 1024)))));

        Assert.Equal(ImapCommandResponse.No, error.Response);
        Assert.Contains("Suggested Backoff Time: 1500 milliseconds", error.ResponseText, StringComparison.Ordinal);
        await fired.WaitAsync(FaultTimeout);
        Assert.Empty((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages);

        // The swallowed literal left the framing intact: the same connection works on.
        await client.NoOpAsync();
        var raw = MessageBytes("after", 5_000);
        Assert.NotNull(await client.Inbox.AppendAsync(new AppendRequest(Wrap(raw))));
        Assert.True(Same(raw, Assert.Single((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages).Bytes));
        Assert.Equal(2, proxy.CommandCount("APPEND"));
        Assert.Equal(0, proxy.CutCount);
        Assert.True(client.IsConnected);
        Assert.Contains(" NO [THROTTLED] Request is throttled.", Encoding.ASCII.GetString(log.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answer_untagged_bye_disconnects_the_client()
    {
        var user = await Server.CreateUserAsync("iproxy-bye");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var log = new MemoryStream();
        using var client = await ConnectAsync(proxy, user, log: log);
        var fired = proxy.Answer("APPEND", "* BYE [UNAVAILABLE] Server shutting down");

        var error = await Record.ExceptionAsync(() => client.Inbox.AppendAsync(new AppendRequest(Wrap(MessageBytes("bye", 50 * 1024)))));

        // MailKit reads the BYE, waits on for the tagged response and meets the reset that follows it.
        AssertReset(error);
        Assert.Contains("S: * BYE [UNAVAILABLE] Server shutting down\r\n", Encoding.ASCII.GetString(log.ToArray()), StringComparison.Ordinal);
        await fired.WaitAsync(FaultTimeout);
        Assert.False(client.IsConnected);
        Assert.Equal(1, proxy.CutCount);
        Assert.Empty((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages);
    }

    [Fact]
    public async Task Synchronizing_literals_wait_for_the_servers_answer_and_answer_replaces_the_continuation()
    {
        var user = await Server.CreateUserAsync("iproxy-sync");
        var message = MessageBytes("sync", 3_000);
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var raw = await RawImap.ConnectAsync(proxy.Port);
        await raw.LoginAsync(user);

        // Relayed: the server's "+" asks for the bytes.
        await raw.SendAsync($"s1 APPEND INBOX {{{message.Length}}}\r\n");
        Assert.StartsWith("+ ", await raw.ReadLineAsync(), StringComparison.Ordinal);
        await raw.SendAsync(message);
        await raw.SendAsync("\r\n");
        Assert.StartsWith("s1 OK", await raw.ReadTaggedAsync("s1"), StringComparison.Ordinal);

        // Answered by the proxy in place of the "+": the client sends no bytes.
        var fired = proxy.Answer("append", "NO [THROTTLED] later");
        await raw.SendAsync($"s2 APPEND INBOX {{{message.Length}}}\r\n");
        Assert.Equal("s2 NO [THROTTLED] later", await raw.ReadLineAsync());
        await fired.WaitAsync(FaultTimeout);

        // Refused by the server in place of the "+": the next line is a new command again.
        await raw.SendAsync($"s3 APPEND Missing {{{message.Length}}}\r\n");
        Assert.StartsWith("s3 NO ", await raw.ReadTaggedAsync("s3"), StringComparison.Ordinal);
        await raw.SendAsync("s4 NOOP\r\n");
        Assert.StartsWith("s4 OK", await raw.ReadTaggedAsync("s4"), StringComparison.Ordinal);

        Assert.Equal(3, proxy.CommandCount("APPEND"));
        Assert.Equal(1, proxy.CommandCount("NOOP"));
        Assert.Single((await Mailbox.ReadAllAsync(Server, user))["INBOX"].Messages);
    }

    [Fact]
    public async Task Sasl_lines_of_authenticate_and_done_of_idle_are_relayed_but_are_not_commands()
    {
        var user = await Server.CreateUserAsync("iproxy-continuation");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var raw = await RawImap.ConnectAsync(proxy.Port);
        Assert.StartsWith("* OK", await raw.ReadLineAsync(), StringComparison.Ordinal);

        // AUTHENTICATE without an initial response: "+", then a SASL line that could pass for a command.
        await raw.SendAsync("a1 AUTHENTICATE PLAIN\r\n");
        Assert.StartsWith("+", await raw.ReadLineAsync(), StringComparison.Ordinal);
        await raw.SendAsync(Convert.ToBase64String(Encoding.ASCII.GetBytes($"\0{user.Name}\0{user.Password}")) + "\r\n");
        Assert.StartsWith("a1 OK", await raw.ReadTaggedAsync("a1"), StringComparison.Ordinal);
        await raw.SendAsync("a2 SELECT INBOX\r\n");
        await raw.ReadTaggedAsync("a2");
        await raw.SendAsync("a3 IDLE\r\n");
        Assert.StartsWith("+ ", await raw.ReadLineAsync(), StringComparison.Ordinal);
        await raw.SendAsync("DONE\r\n");
        Assert.StartsWith("a3 OK", await raw.ReadTaggedAsync("a3"), StringComparison.Ordinal);
        await raw.SendAsync("a4 UID SEARCH ALL\r\n");
        Assert.StartsWith("a4 OK", await raw.ReadTaggedAsync("a4"), StringComparison.Ordinal);

        Assert.Equal(1, proxy.CommandCount("AUTHENTICATE"));
        Assert.Equal(1, proxy.CommandCount("IDLE"));
        Assert.Equal(1, proxy.CommandCount("uid search"));
        Assert.Equal(0, proxy.CommandCount("DONE"));
        Assert.Equal(0, proxy.CommandCount("SEARCH"));
    }

    [Fact]
    public async Task CutPlan_cuts_only_the_planned_connection_after_exactly_the_server_bytes_given()
    {
        var user = await Server.CreateUserAsync("iproxy-plan");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var asked = new List<int>();
        proxy.CutPlan = n =>
        {
            lock (asked)
            {
                asked.Add(n);
            }

            return n == 2 ? (long.MaxValue, 10) : null;
        };

        using var first = await ConnectAsync(proxy, user);
        using (var second = await RawImap.ConnectAsync(proxy.Port))
        {
            Assert.Equal("* OK [CAPA", Encoding.ASCII.GetString(await second.ReadAllBytesAsync()));
        }

        using var third = await ConnectAsync(proxy, user);

        await first.NoOpAsync();
        await third.NoOpAsync();
        Assert.Equal([1, 2, 3], asked);
        Assert.Equal(3, proxy.ConnectionCount);
        Assert.Equal(1, proxy.CutCount);
    }

    [Fact]
    public async Task CutPlan_client_offset_cuts_a_command_midway()
    {
        var user = await Server.CreateUserAsync("iproxy-plan-c2s");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var raw = await RawImap.ConnectAsync(proxy.Port);
        var login = $"p1 LOGIN {user.Name} {user.Password}\r\n";
        // Connection 2 lets the login and "p2 NOOP\r\n" through, then 3 bytes of the next command.
        proxy.CutPlan = n => n == 2 ? (login.Length + 9 + 3, long.MaxValue) : null;
        using var planned = await RawImap.ConnectAsync(proxy.Port);
        await planned.ReadLineAsync();
        await planned.SendAsync(login);
        Assert.StartsWith("p1 OK", await planned.ReadTaggedAsync("p1"), StringComparison.Ordinal);

        await planned.SendAsync("p2 NOOP\r\np3 NOOP\r\n");

        var rest = Encoding.ASCII.GetString(await planned.ReadAllBytesAsync());
        Assert.DoesNotContain("p3 ", rest, StringComparison.Ordinal);
        Assert.Equal(1, proxy.CutCount);
        await raw.LoginAsync(user); // connection 1, unplanned
        Assert.Equal(2, proxy.CommandCount("NOOP"));
    }

    [Fact]
    public async Task CutAll_resets_every_open_connection_and_new_ones_work()
    {
        var user = await Server.CreateUserAsync("iproxy-cutall");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var one = await ConnectAsync(proxy, user);
        using var two = await ConnectAsync(proxy, user);

        proxy.CutAll();

        AssertReset(await Record.ExceptionAsync(() => one.NoOpAsync()));
        AssertReset(await Record.ExceptionAsync(() => two.NoOpAsync()));
        Assert.Equal(2, proxy.CutCount);
        using var three = await ConnectAsync(proxy, user);
        await three.NoOpAsync();
    }

    [Fact]
    public async Task A_throwing_cut_plan_drops_its_connection_and_surfaces_from_dispose()
    {
        var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        proxy.CutPlan = _ => throw new InvalidOperationException("plan bug");
        using (var raw = await RawImap.ConnectAsync(proxy.Port))
        {
            Assert.Empty(await raw.ReadAllBytesAsync());
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => proxy.DisposeAsync().AsTask());
        Assert.Equal("plan bug", error.Message);
    }

    /// <summary>MailKit 4.18 reports a cut as the socket's own error: IOException "Connection reset by peer".</summary>
    private static void AssertReset(Exception? error)
    {
        var io = Assert.IsType<IOException>(error);
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(io.InnerException).SocketErrorCode);
    }

    private async Task<ImapClient> ConnectAsync(ImapFaultProxy proxy, TestUser user, int timeoutMs = ClientTimeoutMs, Stream? log = null)
    {
        var client = log is null ? new ImapClient() : new ImapClient(new ProtocolLogger(log, leaveOpen: true));
        client.Timeout = timeoutMs;
        try
        {
            await client.ConnectAsync(proxy.Host, proxy.Port, SecureSocketOptions.None);
            await client.AuthenticateAsync(user.Name, user.Password);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A message of about <paramref name="size"/> bytes whose body looks like IMAP framing (tagged lines, literal
    /// markers), so a proxy that peeked inside literals would trip over it.
    /// </summary>
    private static byte[] MessageBytes(string subject, int size)
    {
        var text = new StringBuilder(size + 200);
        text.Append(CultureInfo.InvariantCulture, $"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Message-ID: <{subject}@proxy.test>\r\n\r\n")
            .Append("A00000005 OK [APPENDUID 1 1] fake {5}\r\n* 1 FETCH (BODY[] {99+}\r\n+ go on\r\n");
        for (var line = 0; text.Length < size; line++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{line:D8} ").Append((char)('a' + (line % 26)), 66).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static SeedMessage Seed(byte[] raw) =>
        new(raw, new DateTimeOffset(2021, 5, 4, 3, 2, 1, TimeSpan.Zero), MessageFlags.None, []);

    /// <summary>The bytes as they are (the engine's wrapper), where a parsed MimeMessage could be re-serialised.</summary>
    private static MimeKit.MimeMessage Wrap(byte[] raw) => VerbatimMessage.Create(new MemoryStream(raw, writable: false));

    /// <summary>SequenceEqual: Assert.Equal on megabyte arrays takes seconds.</summary>
    private static bool Same(byte[] expected, byte[] actual) => expected.AsSpan().SequenceEqual(actual);

    private static async Task<byte[]> ToArrayAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>A bare IMAP connection, to send exactly the bytes (and synchronizing literals) a test wants.</summary>
    private sealed class RawImap : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly List<byte> _pending = [];

        private RawImap(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            _stream.ReadTimeout = ClientTimeoutMs;
        }

        public static async Task<RawImap> ConnectAsync(int port)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", port);
            return new RawImap(tcp);
        }

        public async Task LoginAsync(TestUser user)
        {
            Assert.StartsWith("* OK", await ReadLineAsync(), StringComparison.Ordinal);
            await SendAsync($"l1 LOGIN {user.Name} {user.Password}\r\n");
            Assert.StartsWith("l1 OK", await ReadTaggedAsync("l1"), StringComparison.Ordinal);
        }

        public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

        public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

        /// <summary>The next line without CRLF.</summary>
        public async Task<string> ReadLineAsync()
        {
            using var timeout = new CancellationTokenSource(ClientTimeoutMs);
            var buffer = new byte[4096];
            while (true)
            {
                var newline = _pending.IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var line = Encoding.ASCII.GetString(_pending.GetRange(0, newline + 1).ToArray()).TrimEnd('\r', '\n');
                    _pending.RemoveRange(0, newline + 1);
                    return line;
                }

                var read = await _stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    throw new IOException("The proxy closed the connection.");
                }

                _pending.AddRange(buffer.AsSpan(0, read));
            }
        }

        /// <summary>Skips untagged lines up to the tagged response for <paramref name="tag"/>.</summary>
        public async Task<string> ReadTaggedAsync(string tag)
        {
            while (true)
            {
                var line = await ReadLineAsync();
                if (line.StartsWith(tag + " ", StringComparison.Ordinal))
                {
                    return line;
                }
            }
        }

        /// <summary>Everything up to the end of the stream, a reset ending it as well as a close.</summary>
        public async Task<byte[]> ReadAllBytesAsync()
        {
            using var timeout = new CancellationTokenSource(ClientTimeoutMs);
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var read = await _stream.ReadAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    _pending.AddRange(buffer.AsSpan(0, read));
                }
            }
            catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // A cut: what arrived before it is the answer.
            }

            var all = _pending.ToArray();
            _pending.Clear();
            return all;
        }

        public async Task<string> ReadToEndAsync() => Encoding.ASCII.GetString(await ReadAllBytesAsync());

        public void Dispose()
        {
            _stream.Dispose();
            _tcp.Dispose();
        }
    }
}
