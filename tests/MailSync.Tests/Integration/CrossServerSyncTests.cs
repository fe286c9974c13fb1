using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Two-way sync between different servers: Dovecot ("/" delimiter, no prefix, CONDSTORE, MOVE) as
/// side A, Cyrus or Courier ("INBOX." prefix, "." delimiter; Courier without CONDSTORE) as side B.
/// The folder mapping has to work both ways, and the paths that do without CONDSTORE (every flag
/// fetched) and without MOVE (COPY and expunge) are taken for real. Seeded and changed with
/// hand-written IMAP; both accounts read back in full.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class CrossServerSyncTests(ServersFixture servers, ITestOutputHelper output)
{
    private static readonly DateTimeOffset Start = new(2024, 4, 5, 6, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("Cyrus")]
    [InlineData("Courier")]
    public async Task Dovecot_and_another_server_stay_equal_through_a_first_sync_and_changes_on_both_sides(string other)
    {
        IImapTestServer dovecot = servers.Dovecot;
        var server = servers[other];
        var a = await dovecot.CreateTestUserAsync("xsync-a");
        var b = await server.CreateTestUserAsync("xsync-b");
        await SeedAsync(dovecot, a, "INBOX", [Mail(1), Mail(2, MessageFlags.Seen), Mail(3)]);
        await SeedAsync(dovecot, a, "Archive/2022", [Mail(10), Mail(11, MessageFlags.Flagged)]);
        await SeedAsync(server, b, "INBOX", [Mail(2), Mail(4, MessageFlags.Answered)]);
        await SeedAsync(server, b, "Notes", [Mail(20, MessageFlags.Draft)]);
        using var job = JobFile.CreateSync(dovecot, a, server, b);

        var first = await job.RunAsync();
        Assert.True(first.Status == JobStatus.Succeeded, $"{first.Status}: {first.Error} {string.Join("; ", first.Warnings)}");
        await TwoAccounts.AssertSameAsync(dovecot, a, server, b);
        Assert.Equal(1, first.Folders.Sum(f => f.Sync!.PairedByContent));

        // A: flag 1, expunge 3, move 10 into INBOX. B: keyword on 4, expunge 2 ... by hand on each server.
        await using (var raw = await RawImapSession.LoginAsync(dovecot.Host, dovecot.ImapPort, a.Name, a.Password))
        {
            await Ok(raw, "SELECT INBOX");
            await Ok(raw, $"UID STORE {await UidOf(raw, 1)} +FLAGS (\\Flagged)");
            await Ok(raw, $"UID STORE {await UidOf(raw, 3)} +FLAGS (\\Deleted)");
            await Ok(raw, "EXPUNGE");
            await Ok(raw, "SELECT Archive/2022");
            await Ok(raw, $"UID MOVE {await UidOf(raw, 10)} INBOX");
        }

        await using (var raw = await RawImapSession.LoginAsync(server.Host, server.ImapPort, b.Name, b.Password))
        {
            await Ok(raw, "SELECT INBOX");
            await Ok(raw, $"UID STORE {await UidOf(raw, 4)} +FLAGS (\\Seen)");
            await Ok(raw, $"UID STORE {await UidOf(raw, 2)} +FLAGS (\\Deleted)");
            await Ok(raw, "EXPUNGE");
            // A message moved the old way (COPY, \Deleted, EXPUNGE) from Notes into the INBOX.
            await Ok(raw, $"SELECT {Name(server, "Notes")}");
            var note = await UidOf(raw, 20);
            await Ok(raw, $"UID COPY {note} INBOX");
            await Ok(raw, $"UID STORE {note} +FLAGS (\\Deleted)");
            await Ok(raw, "EXPUNGE");
        }

        await SeedAsync(server, b, "Projects/New", [Mail(30)]);

        var second = await job.RunAsync();

        Assert.True(second.Status == JobStatus.Succeeded, $"{second.Status}: {second.Error} {string.Join("; ", second.Warnings)}");
        var picture = await TwoAccounts.AssertSameAsync(dovecot, a, server, b);
        output.WriteLine($"{other}:\n{string.Join("\n", picture)}");
        var counts = second.Folders.Select(f => f.Sync!).ToList();
        Assert.Equal((1, 1), (counts.Sum(c => c.MovedOnA), counts.Sum(c => c.MovedOnB)));
        Assert.Equal((1, 1), (counts.Sum(c => c.DeletedOnA), counts.Sum(c => c.DeletedOnB)));
        Assert.Equal(1, second.Appended);
        Assert.Contains(picture, l => l.StartsWith("Projects/New | folder", StringComparison.Ordinal));

        var idle = await job.RunAsync();
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
    }

    /// <summary>A server's name for a logical path: Dovecot's as it is, the others' under "INBOX." with ".".</summary>
    private static string Name(IImapTestServer server, string path)
        => server.Name == "Dovecot" || path == "INBOX" ? path : "INBOX." + path.Replace('/', '.');

    private static async Task SeedAsync(IImapTestServer server, TestUser user, string path, IEnumerable<SeedMessage> messages)
    {
        await using var raw = await RawImapSession.LoginAsync(server.Host, server.ImapPort, user.Name, user.Password);
        var name = Name(server, path);
        // Parents first: not every server creates them on CREATE.
        var parts = path.Split('/');
        for (var i = 1; i <= parts.Length; i++)
        {
            var folder = Name(server, string.Join('/', parts[..i]));
            if (folder != "INBOX")
                await raw.EnsureFolderAsync(folder);
        }

        foreach (var m in messages)
            Assert.NotNull(await raw.AppendAsync(name, m.Raw, m.Flags, m.Keywords, m.InternalDate));
    }

    private static async Task Ok(RawImapSession raw, string command)
    {
        var response = await raw.CommandAsync(command);
        Assert.True(response.IsOk, $"{command}: {response}");
    }

    private static async Task<uint> UidOf(RawImapSession raw, int n)
    {
        var response = await raw.CommandAsync($"UID SEARCH HEADER Message-ID \"<x-{n}@sync.test>\"");
        var line = response.Untagged.Single(l => l.StartsWith("* SEARCH", StringComparison.Ordinal));
        return uint.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static SeedMessage Mail(int n, MessageFlags flags = MessageFlags.None)
        => new(Encoding.ASCII.GetBytes($"Message-ID: <x-{n}@sync.test>\r\nFrom: a@example.org\r\nSubject: cross {n}\r\n\r\nbody {n}\r\n"), Start.AddHours(n), flags, []);
}
