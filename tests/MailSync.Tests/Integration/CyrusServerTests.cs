using System.Diagnostics;
using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailSync.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Proves the test Cyrus behaves as tests against it will assume, and pins the Cyrus 3.6 behaviour a
/// migration tool runs into (separator, namespaces, keyword limit, what APPEND does to odd bytes).
/// </summary>
[Collection(CyrusCollection.Name)]
public sealed class CyrusServerTests(CyrusFixture fixture, ITestOutputHelper output)
{
    private static readonly DateTimeOffset SeedDate = new(2021, 3, 4, 5, 6, 7, TimeSpan.FromHours(2));

    private CyrusServer Server => fixture.Server;

    [Fact]
    public async Task User_logs_in_and_sees_the_INBOX_dot_namespace()
    {
        var user = await Server.CreateUserAsync("login");
        using var client = await Server.ConnectAsync(user);

        Assert.True(client.IsAuthenticated);
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.UidPlus));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.MultiAppend));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.CondStore));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.QuickResync));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.SpecialUse));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.CreateSpecialUse));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Binary));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.LiteralPlus));
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.Namespace));

        // NAMESPACE (("INBOX." ".")) ...; MailKit drops the trailing separator from the path.
        var personal = Assert.Single(client.PersonalNamespaces);
        Assert.Equal("INBOX", personal.Path);
        Assert.Equal('.', personal.DirectorySeparator);
        Assert.Equal(Server.NamespacePrefix, personal.Path + personal.DirectorySeparator);
        Assert.Equal(Server.DirectorySeparator, personal.DirectorySeparator);

        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(0, inbox.Count);
        await client.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task Folders_can_be_created_also_with_a_special_use()
    {
        var user = await Server.CreateUserAsync("folders");
        using (var client = await Server.ConnectAsync(user))
        {
            var top = client.GetFolder(client.PersonalNamespaces[0])
                ?? throw new InvalidOperationException("no folder for the personal namespace");
            var archive = Assert.IsAssignableFrom<IMailFolder>(await top.CreateAsync("Archive", isMessageFolder: true));
            Assert.Equal("INBOX.Archive", archive.FullName);
            var year = Assert.IsAssignableFrom<IMailFolder>(await archive.CreateAsync("2020", isMessageFolder: true));
            Assert.Equal("INBOX.Archive.2020", year.FullName);

            // CREATE "INBOX.Sent" (USE (\Sent)), RFC 6154 CREATE-SPECIAL-USE.
            var sent = Assert.IsAssignableFrom<IMailFolder>(await top.CreateAsync("Sent", [SpecialFolder.Sent]));
            Assert.Equal("INBOX.Sent", sent.FullName);
            await client.DisconnectAsync(quit: true);
        }

        using var again = await Server.ConnectAsync(user);
        var againTop = again.GetFolder(again.PersonalNamespaces[0])
            ?? throw new InvalidOperationException("no folder for the personal namespace");
        var names = (await againTop.GetSubfoldersAsync(subscribedOnly: false))
            .Select(f => f.FullName)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(["INBOX.Archive", "INBOX.Sent"], names);
        Assert.Equal("INBOX.Sent", again.GetFolder(SpecialFolder.Sent)?.FullName);
    }

    [Fact]
    public async Task Raw_seeded_message_comes_back_byte_for_byte_with_its_date_and_keywords()
    {
        var user = await Server.CreateUserAsync("seed");

        // CRLF throughout, 8-bit only in the body (Cyrus would munge it in a header), no final CRLF.
        var raw = Encoding.Latin1.GetBytes(
            "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: raw seed\r\n"
            + "Message-ID: <raw-seed@example.org>\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "Caf\u00e9 line one\r\n  trailing spaces  \r\n\r\nlast line without CRLF");
        var inboxUid = await Server.SeedRawAsync(user, "INBOX", raw, @"\Seen \Flagged $Label1 custom-kw", SeedDate);
        var archiveUid = await Server.SeedRawAsync(user, "INBOX.Archive", raw, "", SeedDate.AddDays(-400));

        using var client = await Server.ConnectAsync(user);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadOnly);
        var uid = new UniqueId(inboxUid);
        var summary = Assert.Single(await inbox.FetchAsync([uid], MessageSummaryItems.InternalDate | MessageSummaryItems.Flags));
        Assert.Equal(SeedDate, summary.InternalDate);
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, summary.Flags & ~MessageFlags.Recent);
        Assert.Equal(["$Label1", "custom-kw"], summary.Keywords.Order(StringComparer.Ordinal));
        Assert.Equal(raw, await ReadBodyAsync(inbox, uid));

        var archive = await client.GetFolderAsync("INBOX.Archive");
        await archive.OpenAsync(FolderAccess.ReadOnly);
        var archived = Assert.Single(await archive.FetchAsync([new UniqueId(archiveUid)], MessageSummaryItems.InternalDate | MessageSummaryItems.Flags));
        Assert.Equal(SeedDate.AddDays(-400), archived.InternalDate);
        Assert.Equal(MessageFlags.None, archived.Flags & ~MessageFlags.Recent);
        Assert.Equal(raw, await ReadBodyAsync(archive, new UniqueId(archiveUid)));
    }

    [Fact]
    public async Task User_without_INBOX_gets_a_NIL_personal_namespace()
    {
        var user = await Server.CreateUserAsync("noinbox", createInbox: false);

        await using (var raw = await Server.RawConnectAsync(user))
        {
            var ns = await raw.CommandAsync("NAMESPACE");
            Assert.True(ns.IsOk, ns.Text);
            Assert.Equal("* NAMESPACE NIL ((\"user.\" \".\")) ((\"\" \".\"))", Assert.Single(ns.Untagged));
            var select = await raw.CommandAsync("SELECT INBOX");
            Assert.Equal("NO", select.Status);
            Assert.Equal("Mailbox does not exist", select.Text);
        }

        using var client = await Server.ConnectAsync(user);
        Assert.Empty(client.PersonalNamespaces);
        Assert.Single(client.OtherNamespaces);

        // The protocol log (CyrusOptions.ProtocolLog) is what ReadLogTail has to show for a session.
        Assert.Contains("NAMESPACE NIL", Server.ReadLogTail(maxLines: 200));
    }

    [Fact]
    public async Task A_mailbox_holds_at_most_100_keywords()
    {
        var user = await Server.CreateUserAsync("keywords");
        var message = "From: a@example.org\r\nSubject: k\r\n\r\nbody\r\n"u8.ToArray();
        var hundred = string.Join(' ', Enumerable.Range(0, 100).Select(i => $"k{i}"));
        await Server.SeedRawAsync(user, "INBOX", message, hundred, SeedDate);

        // Known keywords and system flags still go in; a 101st keyword does not, in any message.
        await Server.SeedRawAsync(user, "INBOX", message, @"\Seen k0 k99", SeedDate);
        var full = await Assert.ThrowsAsync<InvalidOperationException>(
            () => Server.SeedRawAsync(user, "INBOX", message, "k100", SeedDate));
        Assert.EndsWith("NO Too many user flags in mailbox", full.Message);

        // The limit is per mailbox.
        await Server.SeedRawAsync(user, "INBOX.Other", message, "k100", SeedDate);
    }

    [Fact]
    public async Task Append_munges_8bit_headers_and_refuses_bare_LF_and_NUL()
    {
        var user = await Server.CreateUserAsync("bytes");
        var eightBit = Encoding.Latin1.GetBytes("From: a@example.org\r\nSubject: caf\u00c3\u00a9 \u00e9\r\n\r\nbody \u00c3\u00a9\r\n");
        var uid = await Server.SeedRawAsync(user, "INBOX", eightBit, "", SeedDate);
        using (var client = await Server.ConnectAsync(user))
        {
            await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
            var stored = await ReadBodyAsync(client.Inbox, new UniqueId(uid));
            Assert.Equal(Encoding.Latin1.GetBytes("From: a@example.org\r\nSubject: cafXX X\r\n\r\nbody \u00c3\u00a9\r\n"), stored);
        }

        var bareLf = await Assert.ThrowsAsync<InvalidOperationException>(() => Server.SeedRawAsync(
            user, "INBOX", "From: a@example.org\r\nSubject: lf\r\n\r\nline1\nline2\r\n"u8.ToArray(), "", SeedDate));
        Assert.EndsWith("NO Message contains bare newlines", bareLf.Message);
        var nul = await Assert.ThrowsAsync<InvalidOperationException>(() => Server.SeedRawAsync(
            user, "INBOX", "From: a@example.org\r\nSubject: nul\r\n\r\nab\0cd\r\n"u8.ToArray(), "", SeedDate));
        Assert.EndsWith("NO Message contains NUL characters", nul.Message);

        // A bare CR is stored as it is.
        var bareCr = "From: a@example.org\r\nSubject: cr\r\n\r\nline1\rline2\r\n"u8.ToArray();
        var crUid = await Server.SeedRawAsync(user, "INBOX", bareCr, "", SeedDate);
        using var check = await Server.ConnectAsync(user);
        await check.Inbox.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(bareCr, await ReadBodyAsync(check.Inbox, new UniqueId(crUid)));
    }

    [Fact]
    public async Task Own_server_with_munge8bit_off_keeps_8bit_headers_and_stops_cleanly()
    {
        var watch = Stopwatch.StartNew();
        var server = await CyrusServer.StartAsync(new CyrusOptions { Munge8Bit = false });
        var started = watch.Elapsed;
        int masterPid;
        string root;
        try
        {
            output.WriteLine($"Cyrus {server.PackageVersion} started in {started.TotalMilliseconds:0} ms on port {server.ImapPort}");
            Assert.True(started < TimeSpan.FromSeconds(10), $"start took {started}");
            masterPid = server.ProcessId ?? throw new InvalidOperationException("no master PID");
            root = server.RootDirectory;

            var user = await server.CreateUserAsync("eightbit");
            var eightBit = Encoding.Latin1.GetBytes("From: a@example.org\r\nSubject: caf\u00c3\u00a9 \u00e9\r\n\r\nbody\r\n");
            var uid = await server.SeedRawAsync(user, "INBOX", eightBit, "", SeedDate);
            using var client = await server.ConnectAsync(user);
            await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
            Assert.Equal(eightBit, await ReadBodyAsync(client.Inbox, new UniqueId(uid)));
        }
        finally
        {
            watch.Restart();
            await server.DisposeAsync();
            output.WriteLine($"stopped in {watch.Elapsed.TotalMilliseconds:0} ms");
        }

        Assert.False(Directory.Exists(root));
        Assert.False(Directory.Exists($"/proc/{masterPid}"), $"master {masterPid} still runs");
    }

    [Fact]
    public async Task Unix_hierarchy_separator_and_altnamespace_give_the_upstream_layout()
    {
        await using var server = await CyrusServer.StartAsync(new CyrusOptions { UnixHierarchySeparator = true, AltNamespace = true });
        var user = await server.CreateUserAsync("slash");
        Assert.Equal($"user/{user.Name}", server.UserMailboxName(user));
        var uid = await server.SeedRawAsync(user, "Archive/2020", "From: a@example.org\r\n\r\nx\r\n"u8.ToArray(), "", SeedDate);

        using var client = await server.ConnectAsync(user);
        var personal = Assert.Single(client.PersonalNamespaces);
        Assert.Equal("", personal.Path);
        Assert.Equal('/', personal.DirectorySeparator);
        var folder = await client.GetFolderAsync("Archive/2020");
        await folder.OpenAsync(FolderAccess.ReadOnly);
        Assert.Equal(1, folder.Count);
        Assert.Equal(uid, (await folder.SearchAsync(MailKit.Search.SearchQuery.All)).Single().Id);
    }

    private static async Task<byte[]> ReadBodyAsync(IMailFolder folder, UniqueId uid)
    {
        // BODY.PEEK[]: the stored bytes, unparsed.
        await using var stream = await folder.GetStreamAsync(uid, "");
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
