using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Re-runs after a complete copy: folders whose LIST-STATUS says nothing changed are not even
/// selected (counted at an <see cref="ImapFaultProxy"/> on each side), a folder with new mail is
/// selected alone and only the new mail is copied, earlier failures stay reported, and flag and
/// keyword changes on the source are carried to the copies as deltas.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class IncrementalSyncTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Folders = ["INBOX", "Archive", "Archive/2023", "Projects"];

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Rerun_with_nothing_changed_selects_no_folder_on_either_side_and_appends_nothing()
    {
        var (source, target) = await SeededPairAsync("inc-same", perFolder: 15);
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(sourceProxy.Port, source, targetProxy.Port, target);
        var first = await ImapJob.RunAsync(job);
        Assert.Equal(JobStatus.Succeeded, first.Status);
        Assert.Equal(Folders.Length * 15, first.Appended);
        var before = (Source: Counts(sourceProxy), Target: Counts(targetProxy));

        var again = await ImapJob.RunAsync(job);

        var after = (Source: Counts(sourceProxy), Target: Counts(targetProxy));
        output.WriteLine($"first run: source {before.Source}, target {before.Target}; after the re-run: source {after.Source}, target {after.Target}");
        Assert.Equal(JobStatus.Succeeded, again.Status);
        Assert.Equal(0, again.Appended);
        Assert.Equal(Folders.Order(), again.Folders.Select(f => f.SourceFolder).Order());
        Assert.All(again.Folders, f =>
        {
            Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged");
            Assert.Equal((15, 15, 0, 0, 0), (f.SourceMessages, f.AlreadyCopied, f.Copied, f.Failed, f.FlagsUpdated));
        });
        // Not selected, not fetched, nothing stored on either side.
        Assert.Equal(before.Source with { Logins = before.Source.Logins + 1 }, after.Source);
        Assert.Equal(before.Target with { Logins = before.Target.Logins + 1 }, after.Target);
    }

    [Fact]
    public async Task A_message_added_to_one_folder_selects_that_folder_alone_and_copies_just_that_message()
    {
        var (source, target) = await SeededPairAsync("inc-new", perFolder: 15);
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(sourceProxy.Port, source, targetProxy.Port, target);
        Assert.Equal(JobStatus.Succeeded, (await ImapJob.RunAsync(job)).Status);
        await Server.SeedAsync(source, "Archive/2023", [Message("inc-new-late", 1, MessageFlags.Flagged, "$Label2")]);
        var before = (Source: Counts(sourceProxy), Target: Counts(targetProxy));

        var again = await ImapJob.RunAsync(job);

        var after = (Source: Counts(sourceProxy), Target: Counts(targetProxy));
        Assert.Equal(JobStatus.Succeeded, again.Status);
        Assert.Equal(1, again.Appended);
        var changed = Assert.Single(again.Folders, f => !f.Unchanged);
        Assert.Equal(("Archive/2023", 1, 15, 16), (changed.SourceFolder, changed.Copied, changed.AlreadyCopied, changed.SourceMessages));
        Assert.All(again.Folders.Where(f => f != changed), f => Assert.Equal(0, f.Copied));
        // One EXAMINE on the source, one SELECT on the target: the other three folders stay unselected.
        Assert.Equal(1, after.Source.Selects - before.Source.Selects);
        Assert.Equal(1, after.Target.Selects - before.Target.Selects);
        Assert.Equal(1, after.Target.Appends - before.Target.Appends);
        // One folder to copy needs no second connection pair (maxConnections is 4 by default).
        Assert.Equal((1, 1), (after.Source.Logins - before.Source.Logins, after.Target.Logins - before.Target.Logins));
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, census.ToString());
        Assert.Equal("\\Flagged $Label2", (await FlagSnapshot.TakeAsync(Server, target, "Archive/2023"))["inc-new-late-1@mailsync.test"]);
    }

    [Fact]
    public async Task A_message_the_target_refused_stays_reported_as_failed_when_its_folder_is_skipped_unchanged()
    {
        await using var limited = await DovecotServer.StartAsync(new DovecotOptions { MaxMailSizeKb = 64 });
        var source = await Server.CreateUserAsync("inc-fail-src");
        var target = await limited.CreateUserAsync("inc-fail-dst");
        await Server.SeedAsync(source, "INBOX", Messages("inc-fail", 8).Append(Big("inc-fail-big", 100 * 1024)));
        await Server.SeedAsync(source, "Archive", Messages("inc-fail-archive", 5));
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(limited.Host, limited.ImapPort);
        using var job = ImapJob.Create(sourceProxy.Port, source, targetProxy.Port, target);
        var first = await ImapJob.RunAsync(job);
        Assert.Equal(JobStatus.CompletedWithFailures, first.Status);
        var refusal = Assert.Single(first.Failures);
        Assert.Contains("maximum size", refusal.Reason, StringComparison.Ordinal);
        var before = (Source: Counts(sourceProxy), Target: Counts(targetProxy));

        var again = await ImapJob.RunAsync(job);

        var after = (Source: Counts(sourceProxy), Target: Counts(targetProxy));
        Assert.Equal(JobStatus.CompletedWithFailures, again.Status);
        Assert.Equal(0, again.Appended);
        Assert.All(again.Folders, f => Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged"));
        var inbox = again.Folders.Single(f => f.SourceFolder == "INBOX");
        Assert.Equal((9, 8, 1), (inbox.SourceMessages, inbox.AlreadyCopied, inbox.Failed));
        Assert.Equal(0, again.Folders.Single(f => f.SourceFolder == "Archive").Failed);
        var reported = Assert.Single(again.Failures);
        Assert.Equal(("INBOX", refusal.SourceUid, refusal.MessageId), (reported.SourceFolder, reported.SourceUid, reported.MessageId));
        Assert.Contains("maximum size", reported.Reason, StringComparison.Ordinal);
        Assert.Contains("recorded by an earlier run", reported.Reason, StringComparison.Ordinal);
        Assert.Equal(before.Source.Selects, after.Source.Selects);
        Assert.Equal(before.Target.Selects, after.Target.Selects);
    }

    [Fact]
    public async Task Flag_and_keyword_changes_on_the_source_reach_the_copies_as_deltas_and_flags_set_on_the_target_stay()
    {
        var source = await Server.CreateUserAsync("inc-flags-src");
        var target = await Server.CreateUserAsync("inc-flags-dst");
        var inbox = Enumerable.Range(0, 30).Select(i => i switch
        {
            < 5 => Message("inbox", i, MessageFlags.None),
            < 13 => Message("inbox", i, MessageFlags.Seen),
            < 15 => Message("inbox", i, MessageFlags.Seen, "$Label1"),
            _ => Message("inbox", i, MessageFlags.Seen | (i % 3 == 0 ? MessageFlags.Flagged : 0), i % 4 == 0 ? ["$Label1"] : []),
        }).ToList();
        await Server.SeedAsync(source, "INBOX", inbox);
        await Server.SeedAsync(source, "Archive", Enumerable.Range(0, 10).Select(i => Message("archive", i, MessageFlags.Seen)));
        await Server.SeedAsync(source, "Projects", Enumerable.Range(0, 5).Select(i => Message("projects", i, MessageFlags.Seen, "$Label2")));
        using var job = ImapJob.Create(Server.ImapPort, source, Server.ImapPort, target);
        var first = await ImapJob.RunAsync(job);
        Assert.Equal((JobStatus.Succeeded, 45), (first.Status, first.Appended));

        // The user works on the source: 16 INBOX messages and one in Archive change.
        await StoreAsync(source, "INBOX", Ids("inbox", 0, 5), StoreAction.Add, MessageFlags.Flagged);
        await StoreAsync(source, "INBOX", Ids("inbox", 5, 5), StoreAction.Remove, MessageFlags.Seen);
        await StoreAsync(source, "INBOX", Ids("inbox", 10, 3), StoreAction.Add, MessageFlags.None, "$Label2");
        await StoreAsync(source, "INBOX", Ids("inbox", 13, 2), StoreAction.Remove, MessageFlags.None, "$Label1");
        await StoreAsync(source, "INBOX", Ids("inbox", 15, 1), StoreAction.Add, MessageFlags.Answered, "$Label3");
        await StoreAsync(source, "INBOX", Ids("inbox", 15, 1), StoreAction.Remove, MessageFlags.Seen);
        // Setting a flag a message already has changes nothing.
        await StoreAsync(source, "INBOX", Ids("inbox", 16, 1), StoreAction.Add, MessageFlags.Seen);
        await StoreAsync(source, "Archive", Ids("archive", 3, 1), StoreAction.Add, MessageFlags.Flagged);
        // ... and on the target, on copies the source changes and on one it does not.
        await StoreAsync(target, "INBOX", Ids("inbox", 0, 1), StoreAction.Add, MessageFlags.None, "$TargetOnly");
        await StoreAsync(target, "INBOX", Ids("inbox", 5, 1), StoreAction.Add, MessageFlags.Answered);
        await StoreAsync(target, "INBOX", Ids("inbox", 20, 1), StoreAction.Add, MessageFlags.None, "$TargetOnly");
        // Two new messages arrive.
        await Server.SeedAsync(source, "INBOX", [Message("inbox", 100, MessageFlags.Flagged, "$Label3"), Message("inbox", 101, MessageFlags.None)]);

        var second = await ImapJob.RunAsync(job);

        var byFolder = second.Folders.ToDictionary(f => f.SourceFolder);
        output.WriteLine(string.Join("; ", second.Folders.Select(f => $"{f.SourceFolder}: copied {f.Copied}, flags updated {f.FlagsUpdated}, unchanged {f.Unchanged}")));
        Assert.Equal(JobStatus.Succeeded, second.Status);
        Assert.Equal(2, second.Appended);
        Assert.Equal((2, 16), (byFolder["INBOX"].Copied, byFolder["INBOX"].FlagsUpdated));
        Assert.Equal((0, 1, false), (byFolder["Archive"].Copied, byFolder["Archive"].FlagsUpdated, byFolder["Archive"].Unchanged));
        Assert.True(byFolder["Projects"].Unchanged);
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, census.ToString());

        var targetOnly = new Dictionary<string, (MessageFlags Flags, string[] Keywords)>
        {
            [Id("inbox", 0)] = (MessageFlags.None, ["$TargetOnly"]),
            [Id("inbox", 5)] = (MessageFlags.Answered, []),
            [Id("inbox", 20)] = (MessageFlags.None, ["$TargetOnly"]),
        };
        foreach (var folder in new[] { "INBOX", "Archive", "Projects" })
        {
            var sourceFlags = await FlagSnapshot.TakeAsync(Server, source, folder);
            var targetFlags = await FlagSnapshot.TakeAsync(Server, target, folder);
            Assert.Equal(sourceFlags.Keys.Order(), targetFlags.Keys.Order());
            foreach (var (id, flags) in sourceFlags)
            {
                var expected = targetOnly.TryGetValue(id, out var extra) ? Union(flags, extra.Flags, extra.Keywords) : flags;
                Assert.True(expected == targetFlags[id], $"{folder} {id}: source \"{flags}\", target \"{targetFlags[id]}\", expected \"{expected}\"");
            }
        }

        // The changes actually made it: spot checks against what the user did.
        var inboxNow = await FlagSnapshot.TakeAsync(Server, target, "INBOX");
        Assert.Equal("\\Flagged $TargetOnly", inboxNow[Id("inbox", 0)]);
        Assert.Equal("\\Answered", inboxNow[Id("inbox", 5)]);
        Assert.Equal("\\Seen $Label2", inboxNow[Id("inbox", 10)]);
        Assert.Equal("\\Seen", inboxNow[Id("inbox", 13)]);
        Assert.Equal("\\Answered \\Flagged $Label3", inboxNow[Id("inbox", 15)]);
        Assert.Equal("\\Flagged $Label3", inboxNow[Id("inbox", 100)]);

        var third = await ImapJob.RunAsync(job);
        Assert.Equal(JobStatus.Succeeded, third.Status);
        Assert.Equal(0, third.Appended);
        Assert.All(third.Folders, f =>
        {
            Assert.Equal(0, f.FlagsUpdated);
            Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged");
        });
    }

    // Dovecot keeps the subscription of a deleted folder, so MailKit still hands back a folder object
    // for it: the store must create it again rather than trust that lookup.
    [Fact]
    public async Task A_target_folder_deleted_since_the_last_run_is_created_again_and_filled_again()
    {
        var (source, target) = await SeededPairAsync("inc-gone", perFolder: 15);
        using var job = ImapJob.Create(Server.ImapPort, source, Server.ImapPort, target);
        Assert.Equal(JobStatus.Succeeded, (await ImapJob.RunAsync(job)).Status);
        using (var client = await Server.ConnectAsync(target))
        {
            await (await client.GetFolderAsync("Projects")).DeleteAsync();
            await client.DisconnectAsync(quit: true);
        }

        var log = new CapturedLog();
        var again = await ImapJob.RunAsync(job, log);

        log.Messages.Where(m => m.Contains("Projects", StringComparison.Ordinal)).ToList().ForEach(output.WriteLine);
        output.WriteLine($"{again.Status} {again.Error}");
        again.Folders.ForEach(f => output.WriteLine($"{f.SourceFolder}: unchanged {f.Unchanged}, copied {f.Copied}, failed {f.Failed}, error {f.Error}"));
        again.Warnings.ForEach(output.WriteLine);
        again.Failures.ForEach(f => output.WriteLine($"{f.SourceFolder} {f.SourceUid}: {f.Reason}"));
        Assert.Equal(JobStatus.Succeeded, again.Status);
        var projects = again.Folders.Single(f => f.SourceFolder == "Projects");
        Assert.False(projects.Unchanged);
        Assert.Equal(15, projects.Copied);
        Assert.Equal(15, again.Appended);
        Assert.All(again.Folders.Where(f => f != projects), f => Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged"));
        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.True(census.ExactlyOnce, census.ToString());
    }

    private async Task<(TestUser Source, TestUser Target)> SeededPairAsync(string name, int perFolder)
    {
        var source = await Server.CreateUserAsync($"{name}-src");
        var target = await Server.CreateUserAsync($"{name}-dst");
        for (var i = 0; i < Folders.Length; i++)
            await Server.SeedAsync(source, Folders[i], Synthetic.Messages(perFolder, seed: 500 + i));
        return (source, target);
    }

    private Task StoreAsync(TestUser user, string folder, IEnumerable<string> ids, StoreAction action, MessageFlags flags, params string[] keywords)
        => FlagSnapshot.StoreAsync(Server, user, folder, ids, action, flags, keywords);

    private static (int Logins, int Selects, int Fetches, int Appends, int Stores) Counts(ImapFaultProxy proxy) => (
        proxy.CommandCount("LOGIN") + proxy.CommandCount("AUTHENTICATE"),
        proxy.CommandCount("SELECT") + proxy.CommandCount("EXAMINE"),
        proxy.CommandCount("UID FETCH") + proxy.CommandCount("FETCH"),
        proxy.CommandCount("APPEND"),
        proxy.CommandCount("UID STORE") + proxy.CommandCount("STORE"));

    private static string Union(string flagText, MessageFlags flags, string[] keywords)
    {
        var (have, haveKeywords) = FlagText.Parse(flagText);
        return FlagText.Format(have | flags, haveKeywords.Union(keywords, StringComparer.Ordinal));
    }

    private static string Id(string tag, int i) => $"{tag}-{i}@mailsync.test";

    private static IEnumerable<string> Ids(string tag, int from, int count) => Enumerable.Range(from, count).Select(i => Id(tag, i));

    private static IEnumerable<SeedMessage> Messages(string tag, int count) => Enumerable.Range(0, count).Select(i => Message(tag, i, MessageFlags.Seen));

    private static SeedMessage Message(string tag, int i, MessageFlags flags, params string[] keywords)
    {
        var date = new DateTimeOffset(2023, 3, 1, 12, 0, 0, TimeSpan.Zero).AddHours(i);
        var raw = Encoding.ASCII.GetBytes(
            $"From: a@example.com\r\nTo: b@example.com\r\nSubject: {tag} {i}\r\nDate: {date:R}\r\nMessage-ID: <{Id(tag, i)}>\r\n\r\nBody of {tag} {i}\r\n");
        return new SeedMessage(raw, date, flags, keywords);
    }

    private static SeedMessage Big(string tag, int size)
    {
        var head = $"From: a@example.com\r\nSubject: big\r\nMessage-ID: <{tag}@mailsync.test>\r\n\r\n";
        var body = new StringBuilder();
        while (head.Length + body.Length < size)
            body.Append('z', 76).Append("\r\n");
        return new SeedMessage(Encoding.ASCII.GetBytes(head + body), DateTimeOffset.UnixEpoch.AddYears(50), MessageFlags.Seen, []);
    }
}
