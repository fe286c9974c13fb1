using System.Diagnostics;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MailSync.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Proves the test Courier IMAP runs and behaves as the fixture's comments say, and pins what
/// Courier-IMAP 5.0 (Debian 12) does to what it is given, so tests against it can rely on it.
/// </summary>
[Collection(CourierCollection.Name)]
public sealed class CourierServerTests(CourierFixture fixture, ITestOutputHelper output)
{
    private static readonly DateTimeOffset SomeDate = new(2020, 2, 1, 10, 11, 12, TimeSpan.FromHours(1));

    private CourierServer Server => fixture.Server;

    [Fact]
    public async Task User_logs_in_and_sees_the_INBOX_dot_namespace()
    {
        var user = await Server.CreateUserAsync("login");
        using var client = await Server.ConnectAsync(user);

        Assert.True(client.IsAuthenticated);
        Assert.False(client.IsSecure);
        // MailKit drops the trailing separator of the "INBOX." prefix.
        var personal = Assert.Single(client.PersonalNamespaces);
        Assert.Equal("INBOX", personal.Path);
        Assert.Equal(Server.DirectorySeparator, personal.DirectorySeparator);
        Assert.Equal(2, client.SharedNamespaces.Count);
        Assert.Empty(client.OtherNamespaces);
        await client.DisconnectAsync(quit: true);

        await using var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, user.Name, user.Password);
        Assert.Equal("OK", (await raw.CommandAsync("NAMESPACE")).Status);
        Assert.Equal($"* NAMESPACE ((\"{Server.NamespacePrefix}\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))", raw.Untagged[^1]);
    }

    [Fact]
    public async Task Capabilities_are_Debians_stock_list_without_starttls()
    {
        // The stock IMAP_CAPABILITY; imaplogin adds ACL, ACL2=UNION, ENABLE and UTF8=ACCEPT.
        // No AUTH=PLAIN without TLS (IMAP_CAPABILITY_TLS has it), so clients use LOGIN.
        const string expected =
            "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION ENABLE UTF8=ACCEPT";
        var user = await Server.CreateUserAsync("caps");
        using var client = new ImapClient();
        await client.ConnectAsync(Server.Host, Server.ImapPort, SecureSocketOptions.None);
        var before = client.Capabilities;
        Assert.Empty(client.AuthenticationMechanisms);
        await client.AuthenticateAsync(user.Name, user.Password);

        Assert.Equal(before, client.Capabilities);
        foreach (var absent in new[]
                 {
                     ImapCapabilities.CondStore, ImapCapabilities.QuickResync, ImapCapabilities.MultiAppend,
                     ImapCapabilities.Binary, ImapCapabilities.LiteralPlus, ImapCapabilities.SpecialUse,
                     ImapCapabilities.CreateSpecialUse, ImapCapabilities.ListStatus, ImapCapabilities.ListExtended,
                     ImapCapabilities.Move, ImapCapabilities.StartTLS,
                 })
        {
            Assert.False(client.Capabilities.HasFlag(absent), $"unexpected {absent}");
        }

        foreach (var present in new[]
                 {
                     ImapCapabilities.UidPlus, ImapCapabilities.Namespace, ImapCapabilities.Children,
                     ImapCapabilities.Idle, ImapCapabilities.Enable, ImapCapabilities.Acl, ImapCapabilities.Quota,
                     ImapCapabilities.UTF8Accept, ImapCapabilities.Sort, ImapCapabilities.Thread,
                 })
        {
            Assert.True(client.Capabilities.HasFlag(present), $"missing {present}");
        }

        await client.DisconnectAsync(quit: true);

        // The raw lines too, so a changed list shows up in full.
        await using var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, user.Name, user.Password);
        Assert.Contains($"[CAPABILITY {expected}]", raw.Greeting, StringComparison.Ordinal);
        Assert.Equal("OK", (await raw.CommandAsync("CAPABILITY")).Status);
        Assert.Equal($"* CAPABILITY {expected}", raw.Untagged[^1]);
    }

    [Fact]
    public async Task A_folder_can_be_created_under_INBOX()
    {
        var user = await Server.CreateUserAsync("folders");
        using var client = await Server.ConnectAsync(user);
        // The "INBOX." namespace's folder is INBOX itself; new folders become its children.
        var root = client.GetFolder(client.PersonalNamespaces[0]);
        Assert.NotNull(root);
        Assert.Equal("INBOX", root.FullName);

        var projects = await root.CreateAsync("Projects", isMessageFolder: true);
        Assert.NotNull(projects);
        var year = await projects.CreateAsync("2025", isMessageFolder: true);
        Assert.NotNull(year);

        Assert.Equal("INBOX.Projects", projects.FullName);
        Assert.Equal("INBOX.Projects.2025", year.FullName);
        var names = (await root.GetSubfoldersAsync()).Select(f => f.FullName).ToList();
        Assert.Contains("INBOX.Projects", names);
        // Maildir++ on disk: one dot-folder per IMAP folder, without the INBOX prefix.
        Assert.True(Directory.Exists(Path.Combine(Server.MaildirPath(user), ".Projects.2025", "cur")));
        // CREATE does not subscribe, and nothing may live beside INBOX.
        Assert.Empty(await client.GetFoldersAsync(client.PersonalNamespaces[0], StatusItems.None, subscribedOnly: true));
        await client.DisconnectAsync(quit: true);
        await using var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, user.Name, user.Password);
        var outside = await raw.CommandAsync("CREATE Outside");
        Assert.Equal(("NO", "Invalid mailbox name."), (outside.Status, outside.Text));
    }

    [Fact]
    public async Task Seeded_message_comes_back_byte_exact_with_internaldate_flags_and_keywords()
    {
        var user = await Server.CreateUserAsync("seed");
        var raw = Encoding.ASCII.GetBytes(
            "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: seeded\r\n"
            + "Date: Sat, 1 Feb 2020 10:11:12 +0100\r\nMessage-ID: <seed-1@example.org>\r\n\r\nHello,\r\n\r\n-- \r\nAlice\r\n");

        var uid = await Server.SeedRawAsync(
            user, "INBOX.Seeded", raw, MessageFlags.Seen | MessageFlags.Flagged, ["$Forwarded", "project_x"], SomeDate);

        using var client = await Server.ConnectAsync(user);
        var folder = await client.GetFolderAsync("INBOX.Seeded");
        // Read-write (BODY.PEEK changes nothing): EXAMINE would report no PERMANENTFLAGS.
        await folder.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(folder.UidValidity, uid.Validity);
        var summary = Assert.Single(await folder.FetchAsync(
            [uid], MessageSummaryItems.UniqueId | MessageSummaryItems.Flags | MessageSummaryItems.InternalDate | MessageSummaryItems.Size));
        using var body = await folder.GetStreamAsync(uid, ""); // BODY.PEEK[]
        using var copy = new MemoryStream();
        await body.CopyToAsync(copy);

        Assert.Equal(raw, copy.ToArray());
        Assert.Equal((uint)raw.Length, summary.Size);
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, summary.Flags!.Value & ~MessageFlags.UserDefined);
        Assert.Equal(new[] { "$Forwarded", "project_x" }, summary.Keywords.Order(StringComparer.Ordinal));
        // The instant is kept (it is the file's mtime); the zone is not: Courier answers in +0000.
        Assert.Equal(SomeDate.UtcDateTime, summary.InternalDate!.Value.UtcDateTime);
        Assert.Equal(TimeSpan.Zero, summary.InternalDate.Value.Offset);
        // Keywords may be stored (PERMANENTFLAGS has \*), and are kept in courierimapkeywords/.
        Assert.True(folder.PermanentFlags.HasFlag(MessageFlags.UserDefined));
        Assert.True(Directory.Exists(Path.Combine(Server.MaildirPath(user), ".Seeded", "courierimapkeywords")));
        await client.DisconnectAsync(quit: true);
    }

    /// <summary>
    /// Courier keeps messages with LF line ends on disk and serves them with CRLF: every bare LF
    /// comes back as CRLF, a missing final line end is added and a bare CR is dropped (it strips
    /// every CR on the way in). NUL and 8-bit bytes are kept;
    /// an 8-bit header (from a client that did not ENABLE UTF8=ACCEPT) earns an untagged
    /// "* OK [ALERT] Your IMAP client does not appear to correctly implement Unicode messages".
    /// </summary>
    [Theory]
    [InlineData("crlf", "Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n", false)]
    [InlineData("bare-lf", "Subject: b\n\nline 1\nline 2\n", "Subject: b\r\n\r\nline 1\r\nline 2\r\n", false)]
    [InlineData("bare-cr", "Subject: e\r\n\r\na\rb\r\n", "Subject: e\r\n\r\nab\r\n", false)]
    [InlineData("no-final-newline", "Subject: c\r\n\r\nno end", "Subject: c\r\n\r\nno end\r\n", false)]
    [InlineData("nul", "Subject: d\r\n\r\nbefore\0after\r\n", "Subject: d\r\n\r\nbefore\0after\r\n", false)]
    [InlineData("8bit-header", "Subject: caf\u00e9 \u00ff\r\n\r\nbody \u00e9\r\n", "Subject: caf\u00e9 \u00ff\r\n\r\nbody \u00e9\r\n", true)]
    public async Task Append_normalises_line_ends_and_keeps_other_bytes(string name, string sent, string expected, bool alert)
    {
        var user = await Server.CreateUserAsync("norm");
        // Latin-1: one byte per char, so "\u00e9" is the single 8-bit byte 0xE9.
        var raw = Encoding.Latin1.GetBytes(sent);

        await using (var seeder = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, user.Name, user.Password))
        {
            var uid = await seeder.AppendAsync("INBOX", raw, MessageFlags.None, [], SomeDate);
            Assert.NotNull(uid);
            Assert.Equal(alert, seeder.Untagged.Any(l => l.Contains("[ALERT]", StringComparison.Ordinal)));
        }

        using var client = await Server.ConnectAsync(user);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        using var body = await client.Inbox.GetStreamAsync(0, "");
        using var copy = new MemoryStream();
        await body.CopyToAsync(copy);
        Assert.True(Encoding.Latin1.GetBytes(expected).SequenceEqual(copy.ToArray()), $"{name}: got {Escape(copy.ToArray())}");
        await client.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task Users_created_back_to_back_can_all_log_in_at_once()
    {
        // Each user recompiles userdb.dat; authdaemond must notice every rebuild, even several
        // within one second.
        var users = new List<TestUser>();
        for (var i = 0; i < 4; i++)
        {
            users.Add(await Server.CreateUserAsync("burst"));
        }

        foreach (var user in users)
        {
            using var client = await Server.ConnectAsync(user);
            Assert.True(client.IsAuthenticated);
            await client.DisconnectAsync(quit: true);
        }
    }

    [Fact]
    public async Task A_second_server_starts_fast_and_dispose_ends_its_processes_and_folder()
    {
        var started = Stopwatch.StartNew();
        var server = await CourierServer.StartAsync();
        var startTime = started.Elapsed;
        int pid;
        string root;
        try
        {
            output.WriteLine($"start: {startTime.TotalMilliseconds:0} ms in all, {server.StartDuration.TotalMilliseconds:0} ms from spawn to greeting");
            pid = server.ProcessId ?? throw new InvalidOperationException("no process");
            root = server.RootDirectory;
            Assert.NotEqual(Server.ImapPort, server.ImapPort);
            var user = await server.CreateUserAsync("second");
            using var client = await server.ConnectAsync(user);
            Assert.True(client.IsAuthenticated);
            // Left connected on purpose: stopping must also end a live imapd session.
            Assert.True(startTime < TimeSpan.FromSeconds(10), $"start took {startTime}");
            Assert.Contains("LOGIN, user=" + user.Name, server.ReadLogTail(), StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(Directory.Exists(root));
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
        // Nothing of it is still mounted or running anywhere: no process has it as its state folder.
        Assert.DoesNotContain(
            Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)),
            p => ReadCmdline(p!).Contains(root, StringComparison.Ordinal));
    }

    private static string ReadCmdline(string pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string Escape(byte[] bytes) =>
        string.Concat(bytes.Select(b => b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:X2}"));
}
