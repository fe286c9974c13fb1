using System.Security.Cryptography;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Folders copied on several connection pairs at once (min of the two accounts' maxConnections):
/// every message lands exactly once with its flags, however many pairs run, however they are
/// interrupted, and however few connections the server allows.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class ParallelCopyTests(DovecotFixture fixture, ITestOutputHelper output)
{
    // These tests use a few dozen messages per folder; by default extra pairs are opened only for
    // about 200 messages each (MigrationOptions.MessagesPerConnectionPair), so here every folder earns one.
    private static readonly MigrationOptions EveryFolderItsPair = new() { MessagesPerConnectionPair = 1 };

    // Every parent is itself a seeded folder, so the job has exactly these folders.
    private static readonly string[] Folders = ["INBOX", "Archive", "Archive/2023", "Projects", "Receipts", "Travel"];

    private DovecotServer Server => fixture.Server;

    [Theory]
    [InlineData(6, 3, 3, 3)]
    [InlineData(6, 1, 4, 1)]
    [InlineData(6, 4, 2, 2)]
    [InlineData(2, 4, 4, 2)]
    public async Task Folders_are_copied_exactly_once_with_flags_on_min_maxConnections_pairs(int folders, int sourceMax, int targetMax, int expectedPairs)
    {
        var source = await Server.CreateUserAsync("par-src");
        var target = await Server.CreateUserAsync("par-dst");
        await SeedAsync(source, folders, perFolder: 40);
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(sourceProxy.Port, source, targetProxy.Port, target,
            $", \"maxConnections\": {sourceMax}", $", \"maxConnections\": {targetMax}");
        var concurrency = new FolderConcurrency();

        var result = await ImapJob.RunAsync(job, options: EveryFolderItsPair, observer: concurrency);

        output.WriteLine($"{result.Status}; connections source {sourceProxy.ConnectionCount}, target {targetProxy.ConnectionCount}; at most {concurrency.Max} folders at once");
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(folders * 40, result.Appended);
        Assert.Equal(Folders.Take(folders).Order(), result.Folders.Select(f => f.SourceFolder).Order());
        Assert.All(result.Folders, f => Assert.Equal((40, 0), (f.Copied, f.Failed)));
        await AssertSameContentAndFlagsAsync(source, target);
        // One connection per side per pair, and no more: nothing was reconnected.
        Assert.Equal(expectedPairs, targetProxy.ConnectionCount);
        Assert.Equal(expectedPairs, sourceProxy.ConnectionCount);
        // Each folder is selected once on each side, whichever pair copies it.
        Assert.Equal(folders, sourceProxy.CommandCount("EXAMINE") + sourceProxy.CommandCount("SELECT"));
        Assert.Equal(folders, targetProxy.CommandCount("SELECT"));
        // Never more folders at once than pairs. How many actually overlap is up to the scheduler
        // (a fast first pair may finish a small job before the others have logged in), so the
        // lower bound is only asserted where it is certain.
        Assert.InRange(concurrency.Max, 1, expectedPairs);
        Assert.Equal(folders, concurrency.Started);
    }

    [Fact]
    public async Task Cli_killed_while_four_pairs_append_then_resumed_copies_exactly_once_and_a_third_run_appends_nothing()
    {
        var source = await Server.CreateUserAsync("par-kill-src");
        var target = await Server.CreateUserAsync("par-kill-dst");
        await SeedAsync(source, Folders.Length, perFolder: 150);
        using var job = ImapJob.Create(Server.ImapPort, source, Server.ImapPort, target, ", \"maxConnections\": 4");

        using (var process = LedgerProgress.StartRun(job))
        {
            var pending = await LedgerProgress.WaitAsync(job.StatePath, 150, requirePending: true, process);
            process.Kill();
            await process.WaitForExitAsync();
            Assert.True(pending, "the kill must land while an APPEND intent is pending");
        }

        var (copiedAtKill, pendingAtKill) = LedgerProgress.Count(job.StatePath);
        var partial = await Census.TakeAsync(Server, source, Server, target);
        output.WriteLine($"killed with {copiedAtKill} copied and {pendingAtKill} pending in the ledger; target then: {partial}");
        Assert.Equal(0, partial.Duplicates);
        Assert.InRange(partial.Target, 150, partial.Source - 1);

        var resumed = await ImapJob.RunAsync(job);

        var census = await Census.TakeAsync(Server, source, Server, target);
        output.WriteLine($"resumed: {resumed.Status}, appended {resumed.Appended}, reconciled {resumed.Folders.Sum(f => f.Reconciled)}; {census}");
        Assert.Equal(JobStatus.Succeeded, resumed.Status);
        Assert.True(census.ExactlyOnce, census.ToString());
        // What was on the target when the resumed run started is never sent again.
        Assert.InRange(resumed.Appended, 1, census.Source - partial.Target);
        await AssertSameContentAndFlagsAsync(source, target);

        var third = await ImapJob.RunAsync(job);
        Assert.Equal(JobStatus.Succeeded, third.Status);
        Assert.Equal(0, third.Appended);
        Assert.All(third.Folders, f => Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged"));
    }

    [Fact]
    public async Task Every_connection_of_every_pair_cut_mid_run_is_recovered_in_the_same_run_exactly_once()
    {
        var source = await Server.CreateUserAsync("par-cut-src");
        var target = await Server.CreateUserAsync("par-cut-dst");
        await SeedAsync(source, Folders.Length, perFolder: 100);
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(sourceProxy.Port, source, targetProxy.Port, target,
            ", \"maxConnections\": 3, \"retryAttempts\": 6, \"retryDelaySeconds\": 1, \"timeoutSeconds\": 10");
        var log = new CapturedLog();

        var run = ImapJob.RunAsync(job, log, EveryFolderItsPair);
        await WaitForCopiedAsync(job, 120, run);
        // Both sides at once, so every worker loses its source and its target mid-folder.
        sourceProxy.CutAll();
        targetProxy.CutAll();
        var result = await run;

        var census = await Census.TakeAsync(Server, source, Server, target);
        output.WriteLine($"{result.Status}; cut {sourceProxy.CutCount} source and {targetProxy.CutCount} target connections; "
            + $"{result.Recoveries.Count} recoveries; connections source {sourceProxy.ConnectionCount}, target {targetProxy.ConnectionCount}; {census}");
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.True(sourceProxy.CutCount + targetProxy.CutCount >= 2, "the cut hit fewer than two connections");
        Assert.NotEmpty(result.Recoveries);
        Assert.True(census.ExactlyOnce, census.ToString());
        await AssertSameContentAndFlagsAsync(source, target);

        var again = await ImapJob.RunAsync(job);
        Assert.Equal(0, again.Appended);
        Assert.All(again.Folders, f => Assert.True(f.Unchanged, $"{f.SourceFolder} was not skipped as unchanged"));
    }

    [Fact]
    public async Task A_server_connection_limit_leaves_fewer_pairs_and_the_job_still_completes_exactly_once()
    {
        // One connection per user and IP: the job's own target connection is logged in long before
        // the extra pairs try, so all three are refused. (With a limit of 2, Dovecot let 1, 2 or
        // all 3 of the racing extra logins in: it checks the count before counting the new one.)
        await using var limited = await DovecotServer.StartAsync(new DovecotOptions { MaxUserConnections = 1 });
        var source = await Server.CreateUserAsync("par-limit-src");
        var target = await limited.CreateUserAsync("par-limit-dst");
        await SeedAsync(source, Folders.Length, perFolder: 30);
        await using var targetProxy = ImapFaultProxy.Start(limited.Host, limited.ImapPort);
        using var job = ImapJob.Create(Server.ImapPort, source, targetProxy.Port, target, ", \"maxConnections\": 4");
        var log = new CapturedLog();
        var concurrency = new FolderConcurrency();

        var result = await ImapJob.RunAsync(job, log, EveryFolderItsPair, concurrency);

        var refused = log.Messages.Where(m => m.Contains("could not be opened", StringComparison.Ordinal)).ToList();
        refused.ForEach(output.WriteLine);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(Folders.Length * 30, result.Appended);
        Assert.Equal(4, targetProxy.ConnectionCount);
        Assert.Equal(3, refused.Count);
        Assert.All(refused, m => Assert.Contains("going on with fewer", m, StringComparison.Ordinal));
        Assert.Equal(1, concurrency.Max);
        // A refused extra pair is not a failure of the job.
        Assert.Empty(result.Failures);
        Assert.Empty(result.Recoveries);
        // Lift the limit so the check's own login cannot race the job's closing sessions.
        await limited.RestartAsync(new DovecotOptions());
        var census = await Census.TakeAsync(Server, source, limited, target);
        Assert.True(census.ExactlyOnce, census.ToString());
    }

    [Fact]
    public async Task Extra_connections_cut_as_they_open_leave_one_pair_that_copies_everything()
    {
        var source = await Server.CreateUserAsync("par-refuse-src");
        var target = await Server.CreateUserAsync("par-refuse-dst");
        await SeedAsync(source, Folders.Length, perFolder: 20);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        // Only the first connection gets through; every later one is reset before the greeting.
        targetProxy.CutPlan = n => n == 1 ? null : (0, 0);
        using var job = ImapJob.Create(Server.ImapPort, source, targetProxy.Port, target, ", \"maxConnections\": 4");
        var log = new CapturedLog();
        var concurrency = new FolderConcurrency();

        var result = await ImapJob.RunAsync(job, log, EveryFolderItsPair, concurrency);

        var census = await Census.TakeAsync(Server, source, Server, target);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.True(census.ExactlyOnce, census.ToString());
        Assert.Equal(4, targetProxy.ConnectionCount);
        Assert.Equal(3, log.Messages.Count(m => m.Contains("could not be opened", StringComparison.Ordinal)));
        Assert.Equal(1, concurrency.Max);
        Assert.Empty(result.Failures);
    }

    /// <summary>Synthetic mail (flags, $Label2 keywords, duplicates, messages without Message-ID) into the first <paramref name="folders"/> folders.</summary>
    private async Task SeedAsync(TestUser user, int folders, int perFolder)
    {
        for (var i = 0; i < folders; i++)
            await Server.SeedAsync(user, Folders[i], Synthetic.Messages(perFolder, seed: 300 + i));
    }

    /// <summary>Folder by folder, the same multiset of content + INTERNALDATE + flags and keywords.</summary>
    private async Task AssertSameContentAndFlagsAsync(TestUser source, TestUser target)
    {
        var src = await Mailbox.ReadAllAsync(Server, source);
        var dst = await Mailbox.ReadAllAsync(Server, target);
        Assert.Equal(src.Keys.Order(), dst.Keys.Order());
        foreach (var (path, folder) in src)
            Assert.Equal(Fingerprints(folder), Fingerprints(dst[path]));
    }

    private static List<string> Fingerprints(Mailbox.Folder folder)
        => folder.Messages.Select(m => $"{Convert.ToHexString(SHA256.HashData(m.Bytes))}|{m.InternalDate.ToUnixTimeSeconds()}|{m.Flags}").Order().ToList();

    private static async Task WaitForCopiedAsync(JobFile job, int copied, Task run)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (LedgerProgress.Count(job.StatePath).Copied < copied)
        {
            Assert.False(run.IsCompleted, "the run finished before the connections could be cut");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no progress");
            await Task.Delay(5);
        }
    }
}
