using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Two-way sync with the connection of one side cut during the very write the sync makes there:
/// a UID MOVE, the \Deleted STORE or the UID EXPUNGE of an expunge, a flag STORE; cut before the
/// command reaches the server, or after the server did it and before the client hears. The run
/// may recover, fail or report; a rerun without faults must end with both accounts as the user
/// left the side that changed (nothing lost, nothing duplicated, nothing resurrected), and one
/// more run writes nothing.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class SyncFaultTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private static readonly DateTimeOffset Start = new(2022, 6, 1, 8, 0, 0, TimeSpan.Zero);

    private DovecotServer Server => fixture.Server;

    /// <summary>
    /// The user's change (made on the side that is not cut), where the cut falls ("before": the
    /// command never reaches the server; "after": the server did it, its tagged answer is lost),
    /// the command cut, the side whose connection is cut (where the sync writes), and the
    /// account's retryAttempts (0: the run stops at the cut and the rerun settles the intent; 2:
    /// the run may recover on its own).
    /// </summary>
    public static TheoryData<string, string, string, char, int> Faults => new()
    {
        { "move", "before", "UID MOVE", 'B', 0 },
        { "move", "after", "UID MOVE", 'A', 0 },
        { "move", "before", "UID MOVE", 'A', 2 },
        { "move", "after", "UID MOVE", 'B', 2 },
        { "expunge", "before", "UID STORE", 'A', 0 },
        { "expunge", "after", "UID STORE", 'B', 0 },
        { "expunge", "before", "UID EXPUNGE", 'B', 0 },
        { "expunge", "after", "UID EXPUNGE", 'A', 0 },
        { "expunge", "after", "UID STORE", 'A', 2 },
        { "expunge", "before", "UID EXPUNGE", 'B', 2 },
        { "flags", "before", "UID STORE", 'A', 0 },
        { "flags", "after", "UID STORE", 'B', 0 },
        { "flags", "before", "UID STORE", 'B', 2 },
        { "flags", "after", "UID STORE", 'A', 2 },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public Task A_cut_during_the_syncs_own_write_is_settled_by_a_rerun_and_both_accounts_end_as_the_user_left_them(
        string change, string cut, string verb, char cutSide, int retries)
        => CutAndRerunAsync(Server, change, cut, verb, cutSide, retries);

    /// <summary>
    /// Where the server offers no MOVE, a move is three commands (MailKit: UID COPY, UID STORE
    /// +FLAGS.SILENT (\Deleted), UID EXPUNGE), and a cut can fall between any two of them.
    /// </summary>
    [Theory]
    [InlineData("before", "UID COPY", 'B')]
    [InlineData("after", "UID COPY", 'A')]
    [InlineData("after", "UID STORE", 'B')]
    [InlineData("before", "UID EXPUNGE", 'A')]
    [InlineData("after", "UID EXPUNGE", 'B')]
    public async Task A_cut_during_a_move_on_a_server_without_MOVE_is_settled_by_a_rerun_and_both_accounts_end_as_the_user_left_them(string cut, string verb, char cutSide)
    {
        await using var server = await DovecotServer.StartAsync(new DovecotOptions { WithoutMove = true });
        await CutAndRerunAsync(server, "move", cut, verb, cutSide, retries: 0);
    }

    private async Task CutAndRerunAsync(DovecotServer server, string change, string cut, string verb, char cutSide, int retries)
    {
        var name = $"sfault-{change}-{cut}-{verb.Replace(' ', '-').ToLowerInvariant()}-{char.ToLowerInvariant(cutSide)}{retries}";
        var a = await server.CreateUserAsync(name + "-a");
        var b = await server.CreateUserAsync(name + "-b");
        await server.SeedAsync(a, "INBOX", Enumerable.Range(1, 20).Select(i => Mail(i, (i % 2 == 0 ? MessageFlags.Seen : 0) | (i == 5 ? MessageFlags.Flagged : 0))));
        await server.SeedAsync(a, "Archive", Enumerable.Range(21, 10).Select(i => Mail(i, MessageFlags.Seen)));
        await using var proxyA = ImapFaultProxy.Start(server.Host, server.ImapPort);
        await using var proxyB = ImapFaultProxy.Start(server.Host, server.ImapPort);
        using var job = Job(proxyA.Port, a, proxyB.Port, b, retries);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);
        await TwoAccounts.AssertSameAsync(server, a, server, b);

        // The user changes the side that is not cut; the sync then writes the change on the cut side.
        var user = cutSide == 'A' ? b : a;
        await server.SeedAsync(user, "INBOX", [Mail(40, MessageFlags.Seen)]);
        await using (var edits = await RawEdits.LoginAsync(server, user))
        {
            await edits.SelectAsync("INBOX");
            switch (change)
            {
                case "move":
                    await edits.MoveAsync(Ids(3, 4, 5), "Archive");
                    break;
                case "expunge":
                    await edits.ExpungeAsync(Ids(6, 7, 8));
                    break;
                default:
                    await edits.StoreAsync(Ids(9, 10, 11), "+FLAGS (\\Flagged $Label1)");
                    await edits.StoreAsync(Ids(2, 4), "-FLAGS (\\Seen)");
                    break;
            }
        }

        var expected = await TwoAccounts.PictureAsync(server, user);
        var proxy = cutSide == 'A' ? proxyA : proxyB;
        var fired = cut == "before" ? proxy.CutBefore(verb) : proxy.CutBeforeOk(verb);

        var faulted = await job.RunAsync();

        Assert.True(fired.IsCompletedSuccessfully, $"the cut {cut} {verb} on side {cutSide} never fired ({faulted.Status}: {faulted.Error})");
        var rerun = await job.RunAsync();
        output.WriteLine($"| {change} | cut {cut} {verb} on {cutSide}, retryAttempts {retries} | faulted run: {faulted.Status}{(faulted.Error is null ? "" : ": " + faulted.Error)}; {faulted.Recoveries.Count} recoveries | rerun: {rerun.Status}, {Describe(rerun)} |");
        Assert.Equal(JobStatus.Succeeded, rerun.Status);
        var picture = await TwoAccounts.AssertSameAsync(server, a, server, b);
        Assert.Equal(expected, picture);

        var idle = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, idle.Status);
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
        Assert.Equal(0, idle.Appended);
    }

    private static string Describe(JobResult result)
    {
        var counts = result.Folders.Select(f => f.Sync!).ToList();
        return $"appended {counts.Sum(c => c.AppendedToA)}/{counts.Sum(c => c.AppendedToB)}, moved {counts.Sum(c => c.MovedOnA)}/{counts.Sum(c => c.MovedOnB)}, " +
            $"deleted {counts.Sum(c => c.DeletedOnA)}/{counts.Sum(c => c.DeletedOnB)}, flags {counts.Sum(c => c.FlagsChangedOnA)}/{counts.Sum(c => c.FlagsChangedOnB)}, " +
            $"conflicts {counts.Sum(c => c.Conflicts)}, reconciled {counts.Sum(c => c.Reconciled)} (A/B)";
    }

    private static string[] Ids(params int[] n) => [.. n.Select(i => $"fault-{i}@sync.test")];

    private static SeedMessage Mail(int n, MessageFlags flags)
        => new(Encoding.ASCII.GetBytes($"Message-ID: <fault-{n}@sync.test>\r\nFrom: a@example.org\r\nSubject: fault {n}\r\n\r\nbody {n}\r\n"), Start.AddHours(n), flags, []);

    private static JobFile Job(int portA, TestUser a, int portB, TestUser b, int retries)
    {
        var extras = $", \"retryAttempts\": {retries}, \"retryDelaySeconds\": 1, \"timeoutSeconds\": 5";
        return JobFile.Write(a, b, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{portA}}, "security": "none", "user": "{{a.Name}}", "password": "file:src.secret"{{extras}} },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{portB}}, "security": "none", "user": "{{b.Name}}", "password": "file:dst.secret"{{extras}} }
              },
              "jobs": [ { "name": "test", "mode": "sync", "source": "src", "target": "dst" } ]
            }
            """);
    }
}
