using System.Diagnostics;
using System.Security.Cryptography;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// A POP3 → IMAP migration with deleteFromSource, its CLI SIGKILLed again and again: nothing is
/// deleted by a killed run, nothing already confirmed is downloaded again, and the end state holds
/// every message exactly once on the target and none on the server.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class Pop3ResumeTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Cli_killed_at_four_points_and_resumed_copies_every_message_once_and_deletes_only_after()
    {
        const int count = 1500;
        var source = await Server.CreateUserAsync("popkill");
        var target = await Server.CreateUserAsync("popkill-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(count, seed: 11));
        var served = await Pop3Box.ReadAllAsync(Server, source);
        Assert.Equal(count, served.Count);
        // The CLI talks to Dovecot through the test proxy, which counts the RETR answers it relays.
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        using var job = JobFile.CreatePop3(Server, source, Server, target, ", \"deleteFromSource\": true", $"\"port\": {proxy.Port}, \"security\": \"none\"");
        var retrPerRun = new List<int>();
        var thresholds = new[] { 100, 450, 800, 1200 };
        var killedWithPending = 0;
        for (var i = 0; i < thresholds.Length; i++)
        {
            using var process = LedgerProgress.StartRun(job);
            var seen = await LedgerProgress.TryWaitAsync(job.StatePath, thresholds[i], requirePending: i % 2 == 1, process);
            if (seen is not { } pendingSeen)
            {
                // The run got through before the point could be caught: nothing left to kill it in.
                output.WriteLine($"kill {i + 1}: the run finished before {thresholds[i]} copied{(i % 2 == 1 ? " with an APPEND in flight" : "")} was seen; no more kills");
                await process.WaitForExitAsync();
                retrPerRun.Add(proxy.RetrCount - retrPerRun.Sum());
                break;
            }

            process.Kill();
            await process.WaitForExitAsync();
            retrPerRun.Add(proxy.RetrCount - retrPerRun.Sum());
            killedWithPending += pendingSeen ? 1 : 0;
            // A killed session never reaches QUIT, so the server deletes nothing. (Read over IMAP,
            // so that the only POP3 sessions in the server log are mailsync's.)
            var left = (await Mailbox.ReadAllAsync(Server, source))["INBOX"].Messages.Count;
            Assert.Equal(count, left);
            output.WriteLine($"kill {i + 1}: at >= {thresholds[i]} copied, pending in flight: {pendingSeen}; maildrop still holds {left}");
        }

        Assert.True(killedWithPending >= 1, "at least one kill must land while an APPEND intent was pending");
        var copiedBeforeFinal = LedgerProgress.Count(job.StatePath).Copied;

        var (code, text) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);
        Assert.True(code == ExitCodes.Success, $"final run exit {code}: {text}");
        retrPerRun.Add(proxy.RetrCount - retrPerRun.Sum());

        // Every message once on the target, none left on the server.
        var copies = (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages;
        static string Hash(byte[] b) => Convert.ToHexString(SHA256.HashData(b));
        Assert.Equal(served.Select(m => Hash(m.Bytes)).Order(), copies.Select(m => Hash(m.Bytes)).Order());
        Assert.Empty((await Mailbox.ReadAllAsync(Server, source))["INBOX"].Messages);

        // Downloads: the final run fetched at most what was not yet confirmed, and all runs
        // together at most one batch (50) per kill more than N.
        output.WriteLine($"RETR per run: {string.Join(", ", retrPerRun)}; confirmed before the final run: {copiedBeforeFinal}");
        Assert.True(retrPerRun[^1] <= count - copiedBeforeFinal, $"the final run fetched {retrPerRun[^1]}, but only {count - copiedBeforeFinal} were unconfirmed");
        Assert.InRange(retrPerRun.Sum(), count, count + 50 * thresholds.Length);
    }
}
