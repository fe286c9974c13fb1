using System.Diagnostics;
using System.Security.Cryptography;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
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
            using var process = LedgerProgress.StartRun(job);
            var seen = await LedgerProgress.TryWaitAsync(job.StatePath, thresholds[i], requirePending: i % 2 == 1, process);
            if (seen is not { } pendingSeen)
            {
                // The run got through before the point could be caught: nothing left to kill it in.
                output.WriteLine($"kill {i + 1}: the run finished before {thresholds[i]} copied{(i % 2 == 1 ? " with an APPEND in flight" : "")} was seen; no more kills");
                break;
            }

            process.Kill();
            await process.WaitForExitAsync();
            killedWithPending += pendingSeen ? 1 : 0;
            output.WriteLine($"kill {i + 1}: at >= {thresholds[i]} copied, pending in flight: {pendingSeen}");
        }

        Assert.True(killedWithPending >= 2, "at least two kills must land while an APPEND intent was pending");

        var (finalCode, finalText) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);
        Assert.True(finalCode == ExitCodes.Success, $"final run exit {finalCode}: {finalText}");

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
}
