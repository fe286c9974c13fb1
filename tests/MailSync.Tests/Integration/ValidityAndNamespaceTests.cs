using System.Security.Cryptography;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>UIDVALIDITY changes between runs, and a Courier/Cyrus-style target ("INBOX." prefix, '.' delimiter).</summary>
[Collection(DovecotCollection.Name)]
public sealed class ValidityAndNamespaceTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_uidvalidity_change_between_runs_produces_no_duplicates(bool onTarget)
    {
        var source = await Server.CreateUserAsync("uv-src");
        var target = await Server.CreateUserAsync("uv-dst");
        var messages = Synthetic.Messages(60, seed: 11).ToList();
        await Server.SeedAsync(source, "Projects/a", messages.Take(40));

        using var job = JobFile.Create(Server, source, Server, target);
        var config = job.Load();
        var runner = new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance);
        var first = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(40, first.Appended);

        // What a server move or a rebuilt index does: same messages, new UIDVALIDITY.
        var user = onTarget ? target : source;
        await Server.DoveadmAsync(null, "mailbox", "update", "-u", user.Name, "--uid-validity", "777", "Projects/a");
        await Server.SeedAsync(source, "Projects/a", messages.Skip(40));

        var second = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(JobStatus.Succeeded, second.Status);
        Assert.Contains(second.Warnings, w => w.Contains("UIDVALIDITY changed", StringComparison.Ordinal));
        Assert.Equal(20, second.Appended);

        var src = await Mailbox.ReadAllAsync(Server, source);
        var dst = await Mailbox.ReadAllAsync(Server, target);
        Assert.Equal(Hashes(src["Projects/a"]), Hashes(dst["Projects/a"]));

        var third = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(0, third.Appended);
    }

    [Fact]
    public async Task A_target_with_dot_delimiter_and_INBOX_prefix_receives_the_same_tree()
    {
        await using var courierLike = await DovecotServer.StartAsync(new DovecotOptions { NamespaceStyle = NamespaceStyle.InboxPrefixDot });
        var source = await Server.CreateUserAsync("ns-src");
        var target = await courierLike.CreateUserAsync("ns-dst");
        var messages = Synthetic.Messages(50, seed: 5).ToList();
        await Server.SeedAsync(source, "INBOX", messages.Take(10));
        await Server.SeedAsync(source, "Work/Clients/Acme", messages.Skip(10).Take(15));
        await Server.SeedAsync(source, "Work/Notes", messages.Skip(25).Take(10), subscribe: false);
        await Server.SeedAsync(source, "Sent Items", messages.Skip(35));

        using var job = JobFile.Create(Server, source, courierLike, target);
        var config = job.Load();
        var result = Assert.Single(await new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance)
            .RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(JobStatus.Succeeded, result.Status);

        using (var raw = await courierLike.ConnectAsync(target))
        {
            var names = (await raw.GetFoldersAsync(raw.PersonalNamespaces[0], MailKit.StatusItems.None, false)).Select(f => f.FullName).ToHashSet();
            Assert.Contains("INBOX.Work.Clients.Acme", names);
            Assert.Contains("INBOX.Sent", names);
        }

        var src = await Mailbox.ReadAllAsync(Server, source);
        var dst = await Mailbox.ReadAllAsync(courierLike, target);
        static string Expected(string path) => path == "Sent Items" ? "Sent" : path;
        Assert.Equal(src.Keys.Select(Expected).Order(), dst.Keys.Where(k => dst[k].Messages.Count > 0 || src.ContainsKey(k)).Order());
        Assert.Equal(src.Values.Where(f => f.Subscribed).Select(f => Expected(f.Path)).Order(), dst.Values.Where(f => f.Subscribed).Select(f => f.Path).Order());
        foreach (var (path, folder) in src)
            Assert.Equal(Hashes(folder), Hashes(dst[Expected(path)]));
    }

    private static List<string> Hashes(Mailbox.Folder folder)
        => folder.Messages.Select(m => Convert.ToHexString(SHA256.HashData(m.Bytes)) + "|" + m.InternalDate.ToUnixTimeSeconds() + "|" + m.Flags).Order().ToList();
}
