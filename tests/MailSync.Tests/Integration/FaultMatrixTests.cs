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
