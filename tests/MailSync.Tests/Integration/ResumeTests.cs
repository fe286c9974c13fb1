using System.Diagnostics;
using System.Security.Cryptography;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>The CLI killed with SIGKILL mid-migration, again and again, then resumed: nothing lost, nothing duplicated.</summary>
[Collection(DovecotCollection.Name)]
public sealed class ResumeTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Cli_killed_at_five_points_and_resumed_ends_equal_to_an_uninterrupted_run()
    {
        const int count = 2400;
        var source = await Server.CreateUserAsync("kill-src");
        var target = await Server.CreateUserAsync("kill-dst");
        var reference = await Server.CreateUserAsync("kill-ref");
        var all = Synthetic.Messages(count, seed: 7).ToList();
        await Server.SeedAsync(source, "INBOX", all.Take(1000));
        await Server.SeedAsync(source, "Lists/dev", all.Skip(1000).Take(800));
        await Server.SeedAsync(source, "Lists/dev/archive", all.Skip(1800));

        using var job = JobFile.Create(Server, source, Server, target);
        // Kill at rising progress; at the odd points wait until an APPEND is in flight (a pending intent).
        var thresholds = new[] { 150, 600, 1000, 1500, 1900 };
        var killedWithPending = 0;
        for (var i = 0; i < thresholds.Length; i++)
        {
            using var process = StartCli(job);
            var pendingSeen = await WaitForProgressAsync(job.StatePath, thresholds[i], requirePending: i % 2 == 1, process);
            process.Kill();
            await process.WaitForExitAsync();
            killedWithPending += pendingSeen ? 1 : 0;
            output.WriteLine($"kill {i + 1}: at >= {thresholds[i]} copied, pending in flight: {pendingSeen}");
        }

        Assert.True(killedWithPending >= 2, "at least two kills must land while an APPEND intent was pending");

        using (var final = StartCli(job))
        {
            var stdout = final.StandardOutput.ReadToEndAsync();
            await final.WaitForExitAsync();
            Assert.True(final.ExitCode == ExitCodes.Success, $"final run exit {final.ExitCode}: {await stdout}");
        }

        // The same migration done in one go, into another user, is the reference end state.
        using var refJob = JobFile.Create(Server, source, Server, reference);
        var refConfig = refJob.Load();
        var refResult = Assert.Single(await new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance)
            .RunAsync(refConfig, refConfig.Jobs, refJob.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(JobStatus.Succeeded, refResult.Status);

        var src = await Mailbox.ReadAllAsync(Server, source);
        var resumed = await Mailbox.ReadAllAsync(Server, target);
        var uninterrupted = await Mailbox.ReadAllAsync(Server, reference);
        Assert.Equal(count, src.Values.Sum(f => f.Messages.Count));
        Assert.Equal(uninterrupted.Keys.Order(), resumed.Keys.Order());
        foreach (var (path, folder) in src)
        {
            var expected = Fingerprints(folder);
            Assert.Equal(expected, Fingerprints(uninterrupted[path]));
            Assert.Equal(expected, Fingerprints(resumed[path]));
        }
    }

    /// <summary>Sorted content+date+flags fingerprints: equal lists mean no loss and no duplicate.</summary>
    private static List<string> Fingerprints(Mailbox.Folder folder)
        => folder.Messages.Select(m => $"{Convert.ToHexString(SHA256.HashData(m.Bytes))}|{m.InternalDate.ToUnixTimeSeconds()}|{m.Flags}").Order().ToList();

    private static Process StartCli(JobFile job)
    {
        var process = CliProcess.Start("run", job.Path, "--state", job.StatePath);
        // Drain stderr so the child never blocks on a full pipe.
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static async Task<bool> WaitForProgressAsync(string ledger, int copied, bool requirePending, Process process)
    {
        var deadline = Stopwatch.StartNew();
        _ = process.StandardOutput.ReadToEndAsync();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var exited = process.HasExited;
            var (done, pending) = Count(ledger);
            if (done >= copied && (!requirePending || pending > 0))
                return pending > 0;
            Assert.False(exited, $"the run finished (exit {(exited ? process.ExitCode : 0)}) before reaching {copied} copied");
            await Task.Delay(requirePending ? 1 : 10);
        }

        throw new TimeoutException($"no progress to {copied} copied within 60 s");
    }

    private static (long Copied, long Pending) Count(string ledger)
    {
        if (!File.Exists(ledger))
            return (0, 0);
        try
        {
            using var connection = new SqliteConnection($"Data Source={ledger};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT coalesce(sum(state = 'copied'), 0), coalesce(sum(state = 'pending'), 0) FROM messages;";
            using var r = cmd.ExecuteReader();
            r.Read();
            return (r.GetInt64(0), r.GetInt64(1));
        }
        catch (SqliteException)
        {
            // The schema may not exist yet in the first instants of the first run.
            return (0, 0);
        }
    }
}
