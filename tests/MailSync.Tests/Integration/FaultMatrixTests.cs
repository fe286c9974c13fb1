using System.Diagnostics;
using System.Text.Json;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Issue 4's fault matrix: for each fault, the run completes (or stops with the right class and
/// message), and after at most one re-run the target holds every source message exactly once.
/// Each test prints one row of the table: fault | outcome | source vs target | duplicates.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class FaultMatrixTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Target_Dovecot_restarted_mid_run_the_run_waits_for_it_and_completes_exactly_once()
    {
        await using var targetServer = await DovecotServer.StartAsync();
        var source = await Server.CreateUserAsync("restart-src");
        var target = await targetServer.CreateUserAsync("restart-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(1500, seed: 41));
        await Server.SeedAsync(source, "Archive", Synthetic.Messages(500, seed: 42));
        using var job = Job(Server.ImapPort, source, targetServer.ImapPort, target);

        var log = new CapturedLog();
        var run = RunAsync(job, log);
        await WaitForCopiedAsync(job, 50, run);
        // A stopped master lets running imap processes finish their sessions; a real restart
        // (or crash) takes them down, so kick the sessions first.
        await targetServer.DoveadmAsync(null, "kick", target.Name);
        await targetServer.StopAsync();
        Assert.False(run.IsCompleted, "the run finished before the server went down");
        // Down for a while: the run meets refused connections, not just one dropped one.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await targetServer.RestartAsync();
        var result = await run;

        var census = await Census.TakeAsync(Server, source, targetServer, target);
        Row("target Dovecot restarted mid-run", result, census);
        foreach (var line in log.Messages.Where(m => m.Contains("attempt", StringComparison.Ordinal) || m.Contains("recovered", StringComparison.Ordinal)))
            output.WriteLine(line);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.NotEmpty(result.Recoveries);
        Assert.True(census.ExactlyOnce, census.ToString());
    }

    [Fact]
    public async Task Account_failures_stop_only_their_own_job_and_the_report_says_which_and_why()
    {
        await using var quotaServer = await DovecotServer.StartAsync(new DovecotOptions { QuotaStorageKb = 256 });
        var healthySource = await Server.CreateUserAsync("iso-ok-src");
        var healthyTarget = await Server.CreateUserAsync("iso-ok-dst");
        var quotaSource = await Server.CreateUserAsync("iso-quota-src");
        var quotaTarget = await quotaServer.CreateUserAsync("iso-quota-dst");
        var lockedSource = await Server.CreateUserAsync("iso-pw-src");
        await Server.SeedAsync(healthySource, "INBOX", Synthetic.Messages(40, seed: 43));
        // About 1 MB into 256 KiB: the quota fills up part-way.
        await Server.SeedAsync(quotaSource, "INBOX", Synthetic.Messages(300, seed: 44));
        await Server.SeedAsync(lockedSource, "INBOX", Synthetic.Messages(5, seed: 45));

        using var job = JobFile.Write(healthySource, healthyTarget, $$"""
            {
              "accounts": {
                "ok-src": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{healthySource.Name}}", "password": "file:src.secret" },
                "ok-dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{healthyTarget.Name}}", "password": "file:dst.secret" },
                "quota-src": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{quotaSource.Name}}", "password": "file:quota-src.secret" },
                "quota-dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{quotaServer.ImapPort}}, "security": "none", "user": "{{quotaTarget.Name}}", "password": "file:quota-dst.secret" },
                "locked-src": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{lockedSource.Name}}", "password": "file:wrong.secret" }
              },
              "jobs": [
                { "name": "wrong-password", "mode": "migrate", "source": "locked-src", "target": "ok-dst", "targetPrefix": "locked" },
                { "name": "quota-full", "mode": "migrate", "source": "quota-src", "target": "quota-dst" },
                { "name": "healthy", "mode": "migrate", "source": "ok-src", "target": "ok-dst" }
              ]
            }
            """);
        File.WriteAllText(Path.Combine(job.Directory, "quota-src.secret"), quotaSource.Password);
        File.WriteAllText(Path.Combine(job.Directory, "quota-dst.secret"), quotaTarget.Password);
        File.WriteAllText(Path.Combine(job.Directory, "wrong.secret"), "not-the-password");
        var report = Path.Combine(job.Directory, "report.json");

        var (code, stdout) = await CliProcess.RunAsync("run", job.Path, "--report", report);

        Assert.True(code == ExitCodes.AccountError, stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var jobs = doc.RootElement.GetProperty("jobs").EnumerateArray().ToDictionary(j => j.GetProperty("job").GetString()!);
        Assert.Equal("AccountFailed", jobs["wrong-password"].GetProperty("status").GetString());
        Assert.Contains("authentication", jobs["wrong-password"].GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("AccountFailed", jobs["quota-full"].GetProperty("status").GetString());
        Assert.Contains("Quota exceeded", jobs["quota-full"].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("Succeeded", jobs["healthy"].GetProperty("status").GetString());
        Assert.DoesNotContain("not-the-password", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(healthySource.Password, stdout, StringComparison.Ordinal);

        var healthy = await Census.TakeAsync(Server, healthySource, Server, healthyTarget);
        Assert.True(healthy.ExactlyOnce, healthy.ToString());
        // What fit before the quota filled up is there once; the rest waits for more room.
        var quota = await Census.TakeAsync(Server, quotaSource, quotaServer, quotaTarget);
        Assert.Equal(0, quota.Duplicates);
        Assert.InRange(quota.Target, 1, 299);
        output.WriteLine($"| other jobs in the file while one account fails | quota-full and wrong-password stop (exit 4); healthy completes | {healthy} | {healthy.Duplicates} |");
    }

    public static TheoryData<string> ProxyFaults => new()
    {
        "a: cut during login",
        "b: cut during a FETCH literal",
        "c: cut in the middle of an APPEND literal",
        "d: cut after the APPEND literal, before the tagged OK",
        "e: stall past the timeout",
        "f: throttled APPEND (Suggested Backoff Time)",
        "f: untagged BYE [UNAVAILABLE] to FETCH",
    };

    [Theory]
    [MemberData(nameof(ProxyFaults))]
    public async Task A_connection_fault_is_recovered_in_the_same_run_and_every_message_lands_exactly_once(string fault)
    {
        var letter = fault[0];
        var onTarget = letter is 'c' or 'd' or 'e' || fault.Contains("APPEND", StringComparison.Ordinal);
        var source = await Server.CreateUserAsync($"fault-{letter}-src");
        var target = await Server.CreateUserAsync($"fault-{letter}-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(200, seed: 50 + letter));
        await Server.SeedAsync(source, "Projects/2024", Synthetic.Messages(100, seed: 60 + letter));
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var extras = ", \"retryAttempts\": 5, \"retryDelaySeconds\": 1, \"timeoutSeconds\": 5";
        using var job = Job(onTarget ? Server.ImapPort : proxy.Port, source, onTarget ? proxy.Port : Server.ImapPort, target, extras);
        var fired = fault switch
        {
            _ when letter == 'a' => proxy.CutDuringLogin(),
            _ when letter == 'b' => proxy.CutInFetchLiteral(2000),
            _ when letter == 'c' => proxy.CutInAppendLiteral(2000),
            _ when letter == 'd' => proxy.CutBeforeAppendOk(),
            _ when letter == 'e' => proxy.StallOn("APPEND", TimeSpan.FromSeconds(8)),
            _ when fault.Contains("APPEND", StringComparison.Ordinal) => proxy.Answer("APPEND", "NO Request is throttled. Suggested Backoff Time: 1500 milliseconds"),
            _ => proxy.Answer("UID FETCH", "* BYE [UNAVAILABLE] Server shutting down"),
        };
        var log = new CapturedLog();

        var result = await RunAsync(job, log);

        Assert.True(fired.IsCompletedSuccessfully, $"the fault never fired: {fault}");
        var census = await Census.TakeAsync(Server, source, Server, target);
        Row(fault, result, census);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.True(census.ExactlyOnce, census.ToString());
        if (letter != 'a')
            Assert.NotEmpty(result.Recoveries);
        if (fault.Contains("Suggested Backoff", StringComparison.Ordinal))
            Assert.Contains(log.Messages, m => m.Contains("in 1.5 s", StringComparison.Ordinal));
        if (letter == 'd')
        {
            // The message the server stored without telling us was found, not sent again.
            Assert.Contains(log.Messages, m => m.Contains("after the failure", StringComparison.Ordinal) && !m.Contains("after the failure 0 of", StringComparison.Ordinal));
        }

        var again = await RunAsync(job, log);
        Assert.Equal(0, again.Appended);
    }

    [Fact]
    public async Task Messages_without_Message_ID_or_header_block_are_found_again_after_a_cut_before_APPEND_OK_and_land_once()
    {
        // Real messages that give nothing to identify them by but their date and size: no
        // Message-ID, no header block, no blank line after the headers, an mbox From_ line first.
        var odd = Corpus.Messages
            .Where(e => e.Tags.Overlaps(["no-message-id", "no-headers", "no-header-separator", "from-line"]) && !e.Tags.Overlaps(["empty", "has-nul"]))
            .Take(120).ToList();
        var source = await Server.CreateUserAsync("odd-src");
        var target = await Server.CreateUserAsync("odd-dst");
        var start = new DateTimeOffset(2019, 3, 1, 0, 0, 0, TimeSpan.Zero);
        await Server.SeedAsync(source, "INBOX", odd.Select((e, i) => new SeedMessage(File.ReadAllBytes(e.FullPath), start.AddMinutes(i), 0, [])));
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = Job(Server.ImapPort, source, proxy.Port, target, ", \"retryAttempts\": 5, \"retryDelaySeconds\": 1, \"timeoutSeconds\": 5");
        var fired = proxy.CutBeforeAppendOk();
        var log = new CapturedLog();

        var result = await RunAsync(job, log);

        Assert.True(fired.IsCompletedSuccessfully, "the fault never fired");
        var census = await Census.TakeAsync(Server, source, Server, target);
        Row("cut before APPEND OK, messages without Message-ID or header block", result, census);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.True(census.ExactlyOnce, census.ToString());
        // What the server stored before the cut was recognised by date and size, not sent again.
        Assert.Contains(log.Messages, m => m.Contains("after the failure", StringComparison.Ordinal) && !m.Contains("after the failure 0 of", StringComparison.Ordinal));
        var src = (await Mailbox.ReadAllAsync(Server, source))["INBOX"].Messages;
        var dst = (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages;
        Assert.Equal(src.Select(m => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m.Bytes))), dst.Select(m => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m.Bytes))));
        Assert.Equal(0, (await RunAsync(job, log)).Appended);
    }

    [Fact]
    public async Task A_target_quota_that_fills_up_stops_the_account_and_after_more_room_the_rerun_completes_exactly_once()
    {
        await using var quotaServer = await DovecotServer.StartAsync(new DovecotOptions { QuotaStorageKb = 256 });
        var source = await Server.CreateUserAsync("quota-src");
        var target = await quotaServer.CreateUserAsync("quota-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(200, seed: 46));
        using var job = Job(Server.ImapPort, source, quotaServer.ImapPort, target);
        var log = new CapturedLog();

        var first = await RunAsync(job, log);

        Assert.Equal(JobStatus.AccountFailed, first.Status);
        Assert.Contains("Quota exceeded", first.Error, StringComparison.Ordinal);
        var partial = await Census.TakeAsync(Server, source, quotaServer, target);
        Assert.Equal(0, partial.Duplicates);
        Assert.InRange(partial.Target, 1, 199);

        await quotaServer.RestartAsync(quotaServer.Options with { QuotaStorageKb = 64 * 1024 });
        var second = await RunAsync(job, log);

        var census = await Census.TakeAsync(Server, source, quotaServer, target);
        Row("target quota fills up (Dovecot quota plugin), then raised", second, census);
        output.WriteLine($"  first run: {first.Status}, {partial.Target} of {partial.Source} copied: {first.Error}");
        Assert.Equal(JobStatus.Succeeded, second.Status);
        Assert.True(census.ExactlyOnce, census.ToString());
    }

    [Fact]
    public async Task Soak_random_cuts_on_both_sides_during_a_1200_message_migration_lose_and_duplicate_nothing()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("MAILSYNC_SOAK_SEED"), out var replay) ? replay : Random.Shared.Next();
        output.WriteLine($"soak seed {seed} (replay with MAILSYNC_SOAK_SEED={seed})");
        Console.WriteLine($"FaultMatrixTests soak seed {seed}");
        var random = new Random(seed);
        var source = await Server.CreateUserAsync("soak-src");
        var target = await Server.CreateUserAsync("soak-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(700, seed: seed));
        await Server.SeedAsync(source, "Archive/2023", Synthetic.Messages(500, seed: seed + 1));
        await using var sourceProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var targetProxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        // The first connections of each side are cut at a random byte in either direction; later
        // ones are left alone so the run converges within the time box.
        var plan = new object();
        (long, long)? Cut(int connection, long downTo, long upTo)
        {
            lock (plan)
            {
                if (connection > 10 || random.NextDouble() < 0.1)
                    return null;
                return random.Next(2) == 0 ? (random.NextInt64(1, upTo), long.MaxValue) : (long.MaxValue, random.NextInt64(1, downTo));
            }
        }

        // Offsets within what each direction carries: bodies flow down from the source and up to the target.
        sourceProxy.CutPlan = n => Cut(n, downTo: 2_500_000, upTo: 2_000);
        targetProxy.CutPlan = n => Cut(n, downTo: 1_500, upTo: 2_500_000);
        var extras = ", \"retryAttempts\": 8, \"retryDelaySeconds\": 1, \"timeoutSeconds\": 5";
        using var job = Job(sourceProxy.Port, source, targetProxy.Port, target, extras);
        var log = new CapturedLog();
        var clock = Stopwatch.StartNew();

        var first = await RunAsync(job, log);
        var second = first.Status == JobStatus.Succeeded ? null : await RunAsync(job, log);

        var census = await Census.TakeAsync(Server, source, Server, target);
        output.WriteLine($"| soak: random cuts (seed {seed}), {sourceProxy.CutCount + targetProxy.CutCount} connections cut | first run {first.Status}, {first.Recoveries.Count} recoveries{(second is null ? string.Empty : $"; re-run {second.Status}")} | {census} | {census.Duplicates} | {clock.Elapsed.TotalSeconds:0} s");
        Assert.True(census.ExactlyOnce, $"seed {seed}: {census}");
        Assert.Equal(JobStatus.Succeeded, (second ?? first).Status);
        Assert.True(sourceProxy.CutCount + targetProxy.CutCount > 0, $"seed {seed}: no connection was cut");
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"seed {seed}: the soak took {clock.Elapsed}");
    }

    private void Row(string fault, JobResult result, Census census)
        => output.WriteLine($"| {fault} | {result.Status}{(result.Error is null ? string.Empty : ": " + result.Error)}; {result.Recoveries.Count} recoveries | {census} | {census.Duplicates} |");

    private static JobFile Job(int sourcePort, TestUser source, int targetPort, TestUser target, string accountExtras = ", \"retryAttempts\": 6, \"retryDelaySeconds\": 1")
        => JobFile.Write(source, target, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{sourcePort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret"{{accountExtras}} },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{targetPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret"{{accountExtras}} }
              },
              "jobs": [ { "name": "test", "mode": "migrate", "source": "src", "target": "dst" } ]
            }
            """);

    private static async Task<JobResult> RunAsync(JobFile job, CapturedLog log, MigrationOptions? options = null)
    {
        var config = job.Load();
        var runner = new JobRunner(log.Logger, NullMigrationObserver.Instance);
        return Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, options ?? new MigrationOptions(), CancellationToken.None));
    }

    private static async Task WaitForCopiedAsync(JobFile job, int copied, Task run)
    {
        var clock = Stopwatch.StartNew();
        while (LedgerProgress.Count(job.StatePath).Copied < copied)
        {
            Assert.False(run.IsCompleted, "the run finished before the fault could be injected");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no progress");
            await Task.Delay(5);
        }
    }
}
