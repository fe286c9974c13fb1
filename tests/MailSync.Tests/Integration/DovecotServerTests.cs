using System.Security.Cryptography;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Integration;

/// <summary>Proves the test Dovecot behaves as the rest of the suite assumes.</summary>
[Collection(DovecotCollection.Name)]
public sealed class DovecotServerTests(DovecotFixture fixture)
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Imap_login_on_plain_port_works()
    {
        var user = await Server.CreateUserAsync("plain");
        using var client = await Server.ConnectAsync(user);

        Assert.True(client.IsAuthenticated);
        Assert.False(client.IsSecure);
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.UidPlus));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.MultiAppend));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.CondStore));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.SpecialUse));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.ListExtended));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Namespace));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Binary));
        var personal = Assert.Single(client.PersonalNamespaces);
        Assert.Equal("", personal.Path);
        Assert.Equal('/', personal.DirectorySeparator);
    }

    [Fact]
    public async Task Wrong_password_is_rejected_quickly()
    {
        var user = await Server.CreateUserAsync("badpw");
        using var client = new ImapClient { Timeout = (int)ClientTimeout.TotalMilliseconds };
        await client.ConnectAsync(Server.Host, Server.ImapPort, SecureSocketOptions.None);

        // MailKit tries PLAIN, LOGIN and the LOGIN command, so this is six failed attempts.
        // Dovecot's per-IP auth penalty would make them take 2+4+8+15+15 s; the template
        // disables it, leaving ~0.5 s per failure.
        var started = DateTime.UtcNow;
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(user.Name, "wrong"));
        await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync(user.Name, "wrong-again"));
        var elapsed = DateTime.UtcNow - started;
        Assert.True(elapsed < TimeSpan.FromSeconds(8), $"failed logins took {elapsed}; the auth penalty is active");

        await client.AuthenticateAsync(user.Name, user.Password);
        Assert.True(client.IsAuthenticated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Imap_starttls_and_imaps_validate_the_pinned_certificate(bool implicitTls)
    {
        var user = await Server.CreateUserAsync("tls");
        using var client = new ImapClient { Timeout = (int)ClientTimeout.TotalMilliseconds };
        var sawCertificate = await ConnectPinnedAsync(client, Server.ImapPort, Server.ImapsPort, implicitTls);
        await client.AuthenticateAsync(user.Name, user.Password);

        Assert.True(sawCertificate);
        Assert.True(client.IsSecure);
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Imaps_rejects_a_certificate_that_does_not_match_the_pin()
    {
        using var client = new ImapClient
        {
            Timeout = (int)ClientTimeout.TotalMilliseconds,
            ServerCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && Sha256Hex(certificate.GetRawCertData()) == new string('0', 64),
        };

        await Assert.ThrowsAsync<SslHandshakeException>(
            () => client.ConnectAsync(Server.Host, Server.ImapsPort, SecureSocketOptions.SslOnConnect));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pop3_stls_and_pop3s_log_in_and_see_the_inbox(bool implicitTls)
    {
        var user = await Server.CreateUserAsync("pop");
        await Server.SeedAsync(user, "INBOX", [Message("pop one"), Message("pop two")]);
        using var client = new Pop3Client { Timeout = (int)ClientTimeout.TotalMilliseconds };
        var sawCertificate = await ConnectPinnedAsync(client, Server.Pop3Port, Server.Pop3sPort, implicitTls);
        await client.AuthenticateAsync(user.Name, user.Password);

        Assert.True(sawCertificate);
        Assert.True(client.IsSecure);
        Assert.Equal(2, client.Count);
        Assert.Equal(2, (await client.GetMessageUidsAsync()).Distinct().Count());
    }

    [Fact]
    public async Task Pop3_login_on_plain_port_works()
    {
        var user = await Server.CreateUserAsync("pop-plain");
        await Server.SeedAsync(user, "INBOX", [Message("only")]);
        using var client = new Pop3Client { Timeout = (int)ClientTimeout.TotalMilliseconds };

        await client.ConnectAsync(Server.Host, Server.Pop3Port, SecureSocketOptions.None);
        await client.AuthenticateAsync(user.Name, user.Password);

        Assert.False(client.IsSecure);
        Assert.Equal(1, client.Count);
    }

    [Fact]
    public async Task Pop3ConnectAsync_logs_in_and_the_default_server_keeps_the_opt_in_features_off()
    {
        var user = await Server.CreateUserAsync("pop-connect");
        await Server.SeedAsync(user, "INBOX", [Message("one"), Message("two")]);

        using var client = await Server.Pop3ConnectAsync(user);

        Assert.True(client.IsAuthenticated);
        Assert.Equal(2, client.Count);

        // The SASL list is only on the CAPA before login.
        using (var probe = new Pop3Client { Timeout = (int)ClientTimeout.TotalMilliseconds })
        {
            await probe.ConnectAsync(Server.Host, Server.Pop3Port, SecureSocketOptions.None);
            Assert.False(probe.Capabilities.HasFlag(Pop3Capabilities.Apop));
            Assert.Equal(["LOGIN", "PLAIN"], probe.AuthenticationMechanisms.Order(StringComparer.Ordinal));
        }

        // No quota plugin, no OAuth2 endpoint.
        using (var imap = await Server.ConnectAsync(user))
        {
            Assert.False(imap.Capabilities.HasFlag(ImapCapabilities.Quota));
        }

        Assert.Null(Server.OAuth2Endpoint);
        Assert.Throws<InvalidOperationException>(() => Server.IssueOAuth2Token(user));

        // No session lock by default: a second session for the same mailbox gets in at once.
        using var second = await Server.Pop3ConnectAsync(user);
        Assert.Equal(2, second.Count);
    }

    [Fact]
    public async Task Fresh_users_are_isolated()
    {
        var alice = await Server.CreateUserAsync("alice");
        var bob = await Server.CreateUserAsync("bob");
        Assert.NotEqual(alice.Name, bob.Name);
        await Server.SeedAsync(alice, "Private/Stuff", [Message("for alice only")]);

        using (var client = await Server.ConnectAsync(bob))
        {
            await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
            Assert.Equal(0, client.Inbox.Count);
            var folders = await client.GetFoldersAsync(client.PersonalNamespaces[0]);
            Assert.Equal(["INBOX"], folders.Select(f => f.FullName));
        }

        using var wrong = new ImapClient { Timeout = (int)ClientTimeout.TotalMilliseconds };
        await wrong.ConnectAsync(Server.Host, Server.ImapPort, SecureSocketOptions.None);
        await Assert.ThrowsAsync<AuthenticationException>(() => wrong.AuthenticateAsync(bob.Name, alice.Password));
    }

    [Fact]
    public async Task Special_folders_exist_only_when_created_and_carry_their_attribute()
    {
        var user = await Server.CreateUserAsync("special");
        using var client = await Server.ConnectAsync(user);
        Assert.Null(client.GetFolder(SpecialFolder.Sent));

        var root = client.GetFolder(client.PersonalNamespaces[0]);
        await root.CreateAsync("Sent", isMessageFolder: true);
        var sent = await client.GetFolderAsync("Sent");

        Assert.True(sent.Attributes.HasFlag(FolderAttributes.Sent), $"attributes were {sent.Attributes}");
    }

    [Fact]
    public async Task Seed_then_fetch_returns_exact_bytes_date_flags_and_keywords()
    {
        var user = await Server.CreateUserAsync("seed");
        var raw = Encoding.ASCII.GetBytes(
            "From: Alice <alice@example.org>\r\n"
            + "To: Bob <bob@example.org>\r\n"
            + "Subject: exact bytes\r\n"
            + "Message-ID: <seed-1@example.org>\r\n"
            + "Date: Tue, 02 Jan 2024 03:04:05 +0100\r\n"
            + "X-Odd:   keeps   its   spacing\r\n"
            + "\r\n"
            + "Line one\r\n"
            + ".dot-leading line\r\n"
            + "\r\n"
            + "last line\r\n");
        var internalDate = new DateTimeOffset(2021, 3, 4, 5, 6, 7, TimeSpan.FromHours(2));
        var seeded = await Server.SeedAsync(user, "Archive/2021", [
            new SeedMessage(raw, internalDate, MessageFlags.Seen | MessageFlags.Flagged, ["$Label1", "custom_kw"]),
            Message("second"),
        ]);
        Assert.Equal(2, seeded.Count);

        using var client = await Server.ConnectAsync(user);
        var folder = await client.GetFolderAsync("Archive/2021");
        var subscribed = await client.GetFoldersAsync(client.PersonalNamespaces[0], true);
        Assert.Contains("Archive/2021", subscribed.Select(f => f.FullName));
        Assert.Contains("Archive", subscribed.Select(f => f.FullName));
        // ReadWrite: on EXAMINE Dovecot answers PERMANENTFLAGS () because nothing may change.
        await folder.OpenAsync(FolderAccess.ReadWrite);
        Assert.True(folder.PermanentFlags.HasFlag(MessageFlags.UserDefined), "PERMANENTFLAGS must allow new keywords (\\*)");

        var summary = Assert.Single(await folder.FetchAsync(
            [seeded[0]], MessageSummaryItems.InternalDate | MessageSummaryItems.Flags | MessageSummaryItems.UniqueId));
        Assert.Equal(internalDate.UtcDateTime, summary.InternalDate!.Value.UtcDateTime);
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, summary.Flags!.Value & ~MessageFlags.Recent);
        Assert.Equal(["$Label1", "custom_kw"], summary.Keywords.Order(StringComparer.Ordinal));

        using var body = await folder.GetStreamAsync(seeded[0], "");
        using var copy = new MemoryStream();
        await body.CopyToAsync(copy);
        Assert.Equal(raw, copy.ToArray());
    }

    [Fact]
    public async Task Missing_binary_fails_with_the_install_command()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => DovecotServer.StartAsync(new DovecotOptions { DovecotPath = "/nonexistent/dovecot" }));

        Assert.Contains("/nonexistent/dovecot", error.Message);
        Assert.Contains("apt-get install -y dovecot-imapd dovecot-pop3d", error.Message);
    }

    [Fact]
    public async Task With_TLS_disabled_the_server_offers_no_STARTTLS_or_STLS_and_no_implicit_TLS_ports()
    {
        await using var server = await DovecotServer.StartAsync(new DovecotOptions { DisableTls = true });
        var user = await server.CreateUserAsync("notls");

        using (var imap = await server.ConnectAsync(user))
            Assert.False(imap.Capabilities.HasFlag(ImapCapabilities.StartTLS));
        using (var pop3 = await server.Pop3ConnectAsync(user))
            Assert.False(pop3.Capabilities.HasFlag(Pop3Capabilities.StartTLS));

        foreach (var port in new[] { server.ImapsPort, server.Pop3sPort })
        {
            using var tcp = new System.Net.Sockets.TcpClient();
            var refused = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => tcp.ConnectAsync(server.Host, port));
            Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
    }

    [Fact]
    public async Task Restart_keeps_ports_and_data()
    {
        await using var server = await DovecotServer.StartAsync();
        var user = await server.CreateUserAsync("restart");
        await server.SeedAsync(user, "Kept", [Message("one"), Message("two"), Message("three")]);
        var ports = (server.ImapPort, server.ImapsPort, server.Pop3Port, server.Pop3sPort);
        var firstPid = server.ProcessId;

        await server.RestartAsync();

        Assert.NotNull(server.ProcessId);
        Assert.NotEqual(firstPid, server.ProcessId);
        Assert.Equal(ports, (server.ImapPort, server.ImapsPort, server.Pop3Port, server.Pop3sPort));
        using var client = await server.ConnectAsync(user);
        var folder = await client.GetFolderAsync("Kept");
        await folder.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(3, folder.Count);
    }

    [Fact]
    public async Task Restart_with_new_options_lifts_a_size_limit_on_the_same_ports_and_data_but_not_a_layout_change()
    {
        await using var server = await DovecotServer.StartAsync(new DovecotOptions { MaxMailSizeKb = 64 });
        var user = await server.CreateUserAsync("relimit");
        var big = new SeedMessage(Encoding.ASCII.GetBytes("Subject: big\r\n\r\n" + new string('x', 90_000) + "\r\n"), DateTimeOffset.UtcNow, MessageFlags.None, []);
        await server.SeedAsync(user, "INBOX", [Message("small")]);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => server.SeedAsync(user, "INBOX", [big]));
        Assert.Contains("[LIMIT]", refused.Message, StringComparison.Ordinal);
        var ports = (server.ImapPort, server.ImapsPort, server.Pop3Port, server.Pop3sPort);

        await Assert.ThrowsAsync<ArgumentException>(() => server.RestartAsync(new DovecotOptions { NamespaceStyle = NamespaceStyle.InboxPrefixDot }));
        await server.RestartAsync(new DovecotOptions());

        Assert.Null(server.Options.MaxMailSizeKb);
        Assert.Equal(ports, (server.ImapPort, server.ImapsPort, server.Pop3Port, server.Pop3sPort));
        await server.SeedAsync(user, "INBOX", [big]);
        using var client = await server.ConnectAsync(user);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(2, client.Inbox.Count);
    }

    [Fact]
    public async Task Two_servers_run_side_by_side_with_different_namespace_styles()
    {
        var startSource = DovecotServer.StartAsync(new DovecotOptions { NamespaceStyle = NamespaceStyle.Default });
        var startTarget = DovecotServer.StartAsync(new DovecotOptions
        {
            NamespaceStyle = NamespaceStyle.InboxPrefixDot,
            AutoCreateSpecialFolders = true,
        });
        await using var source = await startSource;
        await using var target = await startTarget;

        int[] sourcePorts = [source.ImapPort, source.ImapsPort, source.Pop3Port, source.Pop3sPort];
        int[] targetPorts = [target.ImapPort, target.ImapsPort, target.Pop3Port, target.Pop3sPort];
        Assert.Empty(sourcePorts.Intersect(targetPorts));
        Assert.NotEqual(source.RootDirectory, target.RootDirectory);

        var sourceUser = await source.CreateUserAsync("src");
        using (var client = await source.ConnectAsync(sourceUser))
        {
            Assert.Equal("", client.PersonalNamespaces[0].Path);
            Assert.Equal('/', client.PersonalNamespaces[0].DirectorySeparator);
            Assert.Null(client.GetFolder(SpecialFolder.Sent));
        }

        var targetUser = await target.CreateUserAsync("dst");
        await target.SeedAsync(targetUser, "INBOX.Projects.Alpha", [Message("nested")]);
        using (var client = await target.ConnectAsync(targetUser))
        {
            // MailKit drops the trailing separator: the server's prefix "INBOX." becomes "INBOX".
            Assert.Equal("INBOX", client.PersonalNamespaces[0].Path);
            Assert.Equal('.', client.PersonalNamespaces[0].DirectorySeparator);

            var sent = client.GetFolder(SpecialFolder.Sent);
            Assert.NotNull(sent);
            Assert.Equal("INBOX.Sent", sent.FullName);
            Assert.Equal("INBOX.Trash", client.GetFolder(SpecialFolder.Trash)?.FullName);

            var alpha = await client.GetFolderAsync("INBOX.Projects.Alpha");
            await alpha.OpenAsync(FolderAccess.ReadOnly);
            Assert.Equal(1, alpha.Count);
        }

        var rawNamespace = await RawImapAsync(target, targetUser, "NAMESPACE");
        Assert.Contains("* NAMESPACE ((\"INBOX.\" \".\"))", rawNamespace);
    }

    /// <summary>One command over a bare socket, to see the server's words before MailKit interprets them.</summary>
    private static async Task<string> RawImapAsync(DovecotServer server, TestUser user, string command)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.Host, server.ImapPort);
        var stream = tcp.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var transcript = new StringBuilder();
        async Task RunAsync(string tag, string line)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{tag} {line}\r\n"));
            string? response;
            do
            {
                response = await reader.ReadLineAsync() ?? throw new IOException("server closed the connection");
                transcript.AppendLine(response);
            }
            while (!response.StartsWith(tag + " ", StringComparison.Ordinal));
        }

        transcript.AppendLine(await reader.ReadLineAsync());
        await RunAsync("a", $"LOGIN {user.Name} {user.Password}");
        await RunAsync("b", command);
        await RunAsync("c", "LOGOUT");
        return transcript.ToString();
    }

    /// <summary>
    /// Connects with STARTTLS/STLS or implicit TLS, accepting only the server's pinned certificate;
    /// returns whether the pin check ran and matched.
    /// </summary>
    private async Task<bool> ConnectPinnedAsync(IMailService client, int plainPort, int tlsPort, bool implicitTls)
    {
        var matched = false;
        client.ServerCertificateValidationCallback = (_, certificate, _, _) =>
            matched = certificate is not null && Sha256Hex(certificate.GetRawCertData()) == Server.CertificateSha256;
        await client.ConnectAsync(
            Server.Host,
            implicitTls ? tlsPort : plainPort,
            implicitTls ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls);
        return matched;
    }

    private static SeedMessage Message(string subject) => new(
        Encoding.ASCII.GetBytes($"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"),
        new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
        MessageFlags.None,
        []);

    private static string Sha256Hex(byte[] der) => Convert.ToHexString(SHA256.HashData(der));
}
