using System.Diagnostics;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// The CLI killed with SIGKILL again and again during a two-way sync with changes on both sides,
/// then resumed: both accounts end equal, and equal to an identical pair of accounts synced in one go.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class SyncResumeTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private const int BaseSeed = 71;

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Cli_killed_at_six_points_of_a_sync_with_changes_on_both_sides_and_resumed_ends_equal_to_an_uninterrupted_run()
    {
        var clock = Stopwatch.StartNew();
        var a = await Server.CreateUserAsync("skill-a");
        var b = await Server.CreateUserAsync("skill-b");
        var refA = await Server.CreateUserAsync("skill-ref-a");
        var refB = await Server.CreateUserAsync("skill-ref-b");
        await Task.WhenAll(SeedAsync(a), SeedAsync(refA));

        // The killed runs reach both sides through pass-through proxies, which can hold a command's
        // answer once the server has done it, so a kill lands with that write's intent in flight.
        await using var proxyA = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var proxyB = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = Job(proxyA.Port, a, proxyB.Port, b);
        using var refJob = Job(Server.ImapPort, refA, Server.ImapPort, refB);
        var firsts = await Task.WhenAll(job.RunAsync(), refJob.RunAsync());
        Assert.All(firsts, r => Assert.Equal(JobStatus.Succeeded, r.Status));
        await Task.WhenAll(ChangeBothSidesAsync(a, b), ChangeBothSidesAsync(refA, refB));
        var start = SyncLedgerProgress.Read(job.StatePath);
        output.WriteLine($"set up in {clock.Elapsed.TotalSeconds:0.0} s: two pairs synced, then changed on both sides; ledger: {start}");

        var kills = new List<string>();
        var inFlight = 0;

        // 1-3: the proxy holds the answer to the first UID MOVE on A, the first UID EXPUNGE on A and
        // the first UID STORE on B (an expunge's \Deleted: B's stores start with its expunges, and
        // a pair's expunges on A come before those on B); once the server shows the command done,
        // the CLI is killed with the rows still in flight.
        inFlight += await KillWhileHeldAsync(job, proxyA, "UID MOVE", "moving", "A", a, deletedFlag: false, kills, proxyA, proxyB);
        inFlight += await KillWhileHeldAsync(job, proxyA, "UID EXPUNGE", "expunging", "A", a, deletedFlag: false, kills, proxyA, proxyB);
        inFlight += await KillWhileHeldAsync(job, proxyB, "UID STORE", "expunging", "B", b, deletedFlag: true, kills, proxyA, proxyB);

        // 4-6: at rising numbers of paired rows during the appends, twice with an APPEND in flight.
        foreach (var (more, pending) in new[] { (300, true), (625, false), (950, true) })
        {
            var phase = Stopwatch.StartNew();
            using var process = LedgerProgress.StartRun(job);
            var seen = await SyncLedgerProgress.TryWaitAsync(job.StatePath, c => c.Paired >= start.Paired + more && (!pending || c.Pending > 0), process);
            if (seen is null)
            {
                kills.Add($"(the run finished before {start.Paired + more} paired{(pending ? " with an APPEND in flight" : "")} was seen; no more kills)");
                break;
            }

            await KillAsync(process, proxyA, proxyB);
            inFlight += seen.Pending > 0 ? 1 : 0;
            kills.Add($"kill {kills.Count + 1}: at >= {start.Paired + more} paired{(pending ? ", an APPEND in flight" : "")}, after {phase.ElapsedMilliseconds} ms; ledger: {seen}");
        }

        foreach (var kill in kills)
            output.WriteLine(kill);
        Assert.True(kills.Count(k => k.StartsWith("kill", StringComparison.Ordinal)) >= 5, "the CLI must be killed at five points at least");
        Assert.True(inFlight >= 2, "at least two kills must land with an intent in flight");

        var (code, text) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);
        Assert.True(code == ExitCodes.Success, $"final run exit {code}: {text}");
        var left = SyncLedgerProgress.Read(job.StatePath);
        Assert.Equal(0, left.InFlight + left.Failed);
        output.WriteLine($"resumed to the end after {clock.Elapsed.TotalSeconds:0.0} s; ledger: {left}");

        var uninterrupted = await refJob.RunAsync();
        Assert.Equal(JobStatus.Succeeded, uninterrupted.Status);
        var counts = uninterrupted.Folders.Select(f => f.Sync!).ToList();
        output.WriteLine($"the uninterrupted run: appended {counts.Sum(c => c.AppendedToA)}/{counts.Sum(c => c.AppendedToB)}, moved {counts.Sum(c => c.MovedOnA)}/{counts.Sum(c => c.MovedOnB)}, " +
            $"deleted {counts.Sum(c => c.DeletedOnA)}/{counts.Sum(c => c.DeletedOnB)}, flags {counts.Sum(c => c.FlagsChangedOnA)}/{counts.Sum(c => c.FlagsChangedOnB)}, conflicts {counts.Sum(c => c.Conflicts)} (A/B)");
        // The changes did what they were made for: moves moved, the conflicts copied back.
        Assert.Equal((Ids(1000, 1012).Length, Ids(100, 115).Length), (counts.Sum(c => c.MovedOnA), counts.Sum(c => c.MovedOnB)));
        Assert.Equal(Ids(12, 16).Length, counts.Sum(c => c.Conflicts));
        Assert.Equal((600, 600 + Ids(12, 16).Length), (counts.Sum(c => c.AppendedToA), counts.Sum(c => c.AppendedToB)));

        var resumed = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        var expected = await TwoAccounts.AssertSameAsync(Server, refA, Server, refB);
        Assert.True(expected.SequenceEqual(resumed),
            $"the resumed accounts differ from the uninterrupted ones.\n  only resumed: {string.Join("\n                ", resumed.Except(expected))}\n  only uninterrupted: {string.Join("\n                      ", expected.Except(resumed))}");
        Assert.Equal(1200 + 600 + 600 - Ids(150, 170).Length - Ids(600, 630).Length - Ids(200, 230).Length, resumed.Count(l => !l.Contains("| folder", StringComparison.Ordinal)));

        var idle = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, idle.Status);
        Assert.Equal(0, idle.Appended);
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
        Assert.Equal(resumed, await TwoAccounts.PictureAsync(Server, a));
        output.WriteLine($"total {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// Starts the CLI with <paramref name="verb"/> held at <paramref name="proxy"/>; once the command
    /// was sent, its intent rows (<paramref name="state"/> toward <paramref name="side"/>) are in the
    /// ledger and the server shows it done (the UIDs gone, or marked \Deleted), kills the CLI.
    /// Returns 1: a kill with an intent in flight.
    /// </summary>
    private async Task<int> KillWhileHeldAsync(
        JobFile job, ImapFaultProxy proxy, string verb, string state, string side, TestUser user, bool deletedFlag, List<string> kills, params ImapFaultProxy[] all)
    {
        var phase = Stopwatch.StartNew();
        var held = proxy.StallOn(verb, TimeSpan.FromMinutes(5));
        using var process = LedgerProgress.StartRun(job);
        await Task.WhenAny(held, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(held.IsCompletedSuccessfully, $"the run (exit {(process.HasExited ? process.ExitCode : -1)}) ended before it sent {verb} on side {side}");
        var rows = (await SyncLedgerProgress.InFlightAsync(job.StatePath)).Where(r => r.State == state && r.Toward == side).ToList();
        Assert.True(rows.Count > 0, $"{verb} on side {side} was sent without {state} rows toward {side} in the ledger");

        await using (var look = await RawEdits.LoginAsync(Server, user))
        {
            var wait = Stopwatch.StartNew();
            while (!await DoneAsync(look, rows, deletedFlag))
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(10), $"the server did not show {verb} done within 10 s");
                await Task.Delay(5);
            }
        }

        Assert.False(process.HasExited, "the CLI ended while its command was held");
        await KillAsync(process, all);
        kills.Add($"kill {kills.Count + 1}: {verb} on side {side} done by the server, its answer held, after {phase.ElapsedMilliseconds} ms; {rows.Count} row(s) {state} toward {side} in {string.Join(", ", rows.Select(r => r.Folder).Distinct())}; ledger: {SyncLedgerProgress.Read(job.StatePath)}");
        return 1;
    }

    /// <summary>Whether the server has done the held command for these rows: their UIDs gone from the folder, or (<paramref name="deletedFlag"/>) all marked \Deleted.</summary>
    private static async Task<bool> DoneAsync(RawEdits look, List<SyncLedgerProgress.InFlightRow> rows, bool deletedFlag)
    {
        foreach (var folder in rows.GroupBy(r => r.Folder))
        {
            await look.ExamineAsync(folder.Key);
            var set = RawEdits.Set(folder.Select(r => r.Uid!.Value));
            var found = await look.SearchAsync(deletedFlag ? $"UID {set} DELETED" : $"UID {set}");
            if (deletedFlag ? found.Count != folder.Count() : found.Count != 0)
                return false;
        }

        return true;
    }

    /// <summary>SIGKILL, then every connection through the proxies reset, so no session of the dead run lingers.</summary>
    private static async Task KillAsync(Process process, params ImapFaultProxy[] proxies)
    {
        process.Kill();
        await process.WaitForExitAsync();
        foreach (var proxy in proxies)
            proxy.CutAll();
    }

    /// <summary>1200 messages in three folders, by hand-written APPENDs.</summary>
    private async Task SeedAsync(TestUser user)
    {
        var all = Synthetic.Messages(1200, BaseSeed).ToList();
        await Server.SeedAsync(user, "INBOX", all.Take(600));
        await Server.SeedAsync(user, "Archive", all.Skip(600).Take(400));
        await Server.SeedAsync(user, "Lists/dev", all.Skip(1000));
    }

    /// <summary>
    /// The same changes, made by hand on both sides of a synced pair. A: 600 new messages (one new
    /// folder), \Flagged on, \Seen off, expunges in INBOX and Archive, a move INBOX → Archive.
    /// B: 600 new messages, a keyword on (overlapping A's flag changes), \Seen off in Archive,
    /// expunges in INBOX (four of them of messages A flagged: conflicts), a move Lists/dev → INBOX.
    /// Every side that gets flag stores from the other also gets expunges in the same folder, so
    /// B's first UID STORE is an expunge's \Deleted.
    /// </summary>
    private async Task ChangeBothSidesAsync(TestUser a, TestUser b)
    {
        var newA = Synthetic.Messages(600, BaseSeed + 1).ToList();
        var newB = Synthetic.Messages(600, BaseSeed + 2).ToList();
        await Server.SeedAsync(a, "INBOX", newA.Take(250));
        await Server.SeedAsync(a, "Lists/dev", newA.Skip(250).Take(200));
        await Server.SeedAsync(a, "Projects/2025", newA.Skip(450));
        await using (var edits = await RawEdits.LoginAsync(Server, a))
        {
            await edits.SelectAsync("INBOX");
            await edits.StoreAsync(Ids(10, 60), "+FLAGS (\\Flagged)");
            await edits.StoreAsync(Ids(60, 100), "-FLAGS (\\Seen)");
            await edits.ExpungeAsync(Ids(150, 170));
            await edits.MoveAsync(Ids(100, 115), "Archive");
            await edits.SelectAsync("Archive");
            await edits.ExpungeAsync(Ids(600, 630));
        }

        await Server.SeedAsync(b, "Archive", newB.Take(300));
        await Server.SeedAsync(b, "INBOX", newB.Skip(300).Take(200));
        await Server.SeedAsync(b, "Lists/dev", newB.Skip(500));
        await using (var edits = await RawEdits.LoginAsync(Server, b))
        {
            await edits.SelectAsync("INBOX");
            await edits.StoreAsync(Ids(30, 80), "+FLAGS ($Label1)");
            await edits.ExpungeAsync(Ids(200, 230));
            await edits.ExpungeAsync(Ids(12, 16));
            await edits.SelectAsync("Archive");
            await edits.StoreAsync(Ids(700, 740), "-FLAGS (\\Seen)");
            await edits.SelectAsync("Lists/dev");
            await edits.MoveAsync(Ids(1000, 1012), "INBOX");
        }
    }

    /// <summary>
    /// The Message-IDs of the seeded messages from <paramref name="from"/> up to <paramref name="to"/>
    /// that have one and are not one of <see cref="Synthetic"/>'s byte-for-byte twins.
    /// </summary>
    private static string[] Ids(int from, int to)
        => [.. Enumerable.Range(from, to - from).Where(i => i % 10 != 3 && i % 97 < 95).Select(i => $"synthetic-{BaseSeed}-{i}@mailsync.test")];

    private static JobFile Job(int portA, TestUser a, int portB, TestUser b)
        => JobFile.Write(a, b, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{portA}}, "security": "none", "user": "{{a.Name}}", "password": "file:src.secret" },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{portB}}, "security": "none", "user": "{{b.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [ { "name": "test", "mode": "sync", "source": "src", "target": "dst" } ]
            }
            """);
}
