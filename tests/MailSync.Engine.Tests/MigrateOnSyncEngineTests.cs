using MailKit;
using MailSync.Core.Sync;
using MailSync.Core.Sync.TwoWay;
using Microsoft.Data.Sqlite;

namespace MailSync.Engine.Tests;

/// <summary>
/// Migrate as a policy of the two-way engine (prototype, <see cref="SyncPolicy.Migrate"/>): it
/// ends where <see cref="MigrationEngine"/> ends, and it carries on from what MigrationEngine left
/// in the ledger (rows moved into the side-indexed tables), even from a run stopped at any step.
/// </summary>
public sealed class MigrateOnSyncEngineTests
{
    public sealed record Change(string Name, Action<InMemoryServer, InMemoryServer> Apply)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Change> Changes() =>
    [
        new("nothing", (_, _) => { }),
        new("new mail, a flag set and a keyword removed on the source", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            inbox.Append(Seeds.Message(30), MessageFlags.None, [], Seeds.Start.AddDays(30));
            inbox.SetFlags(inbox.Messages[1].Uid, MessageFlags.Flagged, []);
            inbox.SetFlags(inbox.Messages[3].Uid, MessageFlags.None, []);
        }),
        new("a flag set on the target copy only stays, and the source's change still goes", (source, target) =>
        {
            var copy = target.Folders["INBOX"];
            copy.SetFlags(copy.Messages[1].Uid, MessageFlags.Answered, ["mine"]);
            var inbox = source.Folders["INBOX"];
            inbox.SetFlags(inbox.Messages[1].Uid, MessageFlags.Seen, []);
        }),
        new("a flag removed on the target copy is not put back while the source does not change it", (_, target) =>
        {
            var copy = target.Folders["INBOX"];
            copy.SetFlags(copy.Messages[0].Uid, MessageFlags.None, []);
        }),
        new("a message expunged on the source stays on the target", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            inbox.Expunge([inbox.Messages[2].Uid]);
        }),
        new("a message moved on the source is copied into its new folder, the old copy stays", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            inbox.MoveTo(inbox.Messages[4].Uid, source.Folders["Archive"]);
        }),
        new("a folder and a message only the target has are left alone, nothing is written to the source", (_, target) =>
        {
            target.Add("Own").Append(Seeds.Message(50), MessageFlags.None, [], Seeds.Start.AddDays(50));
            target.Folders["INBOX"].Append(Seeds.Message(51), MessageFlags.None, [], Seeds.Start.AddDays(51));
        }),
        new("a folder renamed on the source is copied under its new name, the old one stays on the target", (source, _) => source.Rename("Archive/2020", "Y2020")),
    ];

    /// <summary>Both engines, run twice with the change between: the same end state on both servers.</summary>
    [Theory]
    [MemberData(nameof(Changes))]
    public async Task The_migrate_policy_ends_where_the_migrate_engine_ends(Change change)
    {
        var reference = await TwoRunsAsync(change, (s, t, l) => EngineRun.MigrateAsync(s, t, l));
        var policy = await TwoRunsAsync(change, (s, t, l) => EngineRun.SyncAsync(s, t, l, SyncPolicy.Migrate));
        Assert.Equal(reference.Source, policy.Source);
        Assert.Equal(reference.Target, policy.Target);
        Assert.Equal(0, policy.RerunSideEffects);
    }

    private static async Task<(List<string> Source, List<string> Target, int RerunSideEffects)> TwoRunsAsync(
        Change change, Func<InMemoryServer, InMemoryServer, string, Task> run)
    {
        var faults = new Faults();
        var source = new InMemoryServer("source", faults);
        var target = new InMemoryServer("target", faults);
        Seeds.Tree(source);
        using var ledger = new EngineRun.TempLedger();
        await run(source, target, ledger.Path);
        change.Apply(source, target);
        await run(source, target, ledger.Path);
        faults.Restart();
        await run(source, target, ledger.Path);
        return (source.Snapshot(), target.Snapshot(), faults.Count);
    }

    /// <summary>
    /// MigrationEngine stopped before or after any of its side effects, then the job resumed on the
    /// two-way engine with the migrate policy: the target ends as MigrationEngine's uninterrupted
    /// run left it (pending APPENDs settled by looking, nothing copied twice), the migrate rows
    /// are all moved into the side-indexed tables, and one more run writes nothing.
    /// </summary>
    [Fact]
    public async Task A_migrate_run_stopped_at_any_step_is_finished_by_the_migrate_policy()
    {
        var (referenceTarget, sideEffects) = await StoppedThenResumedAsync(0, 0);
        Assert.True(sideEffects > 0);
        for (var k = 1; k <= sideEffects; k++)
        {
            foreach (var before in new[] { true, false })
            {
                var (target, _) = await StoppedThenResumedAsync(before ? k : 0, before ? 0 : k);
                Assert.True(referenceTarget.SequenceEqual(target),
                    $"stopped {(before ? "before" : "after")} side effect {k}, resumed on the two-way engine, the target differs:\n  reference: {string.Join("\n             ", referenceTarget)}\n  resumed:   {string.Join("\n             ", target)}");
            }
        }
    }

    /// <summary>
    /// Known gap (why the default engine is not flipped): migrate merges several source folders
    /// into one target folder (a rename onto the same name, two folders of one role), while the
    /// side-indexed pairs are one to one (<c>UNIQUE(job, name_b)</c>), so the two-way engine syncs
    /// only the first and warns about the other. No test of the migrate suite covers a merge.
    /// </summary>
    /// <summary>
    /// The known gap that keeps the migrate policy off by default: migrate merges two source folders
    /// renamed onto one target folder; the policy's pairs are one to one (sync_pairs, schema v3), so
    /// it copies the first and names the second in a warning, copying nothing twice. When merges come
    /// to the policy, this test turns into "the policy ends as migrate does".
    /// </summary>
    [Fact]
    public async Task Two_source_folders_renamed_onto_one_target_folder_are_merged_by_migrate_and_by_the_policy_only_warned_about()
    {
        var mapping = new MailSync.Core.Mapping.FolderMappingOptions([], [], new Dictionary<string, string> { ["Older"] = "Old" }, null);
        async Task<(List<string> Target, MailSync.Core.Jobs.JobResult Result)> RunAsync(Func<InMemoryServer, InMemoryServer, string, Task<MailSync.Core.Jobs.JobResult>> run)
        {
            var faults = new Faults();
            var source = new InMemoryServer("source", faults);
            var target = new InMemoryServer("target", faults);
            source.Add("Old").Append(Seeds.Message(1), MessageFlags.Seen, [], Seeds.Start);
            source.Add("Older").Append(Seeds.Message(2), MessageFlags.None, [], Seeds.Start.AddDays(1));
            using var ledger = new EngineRun.TempLedger();
            var result = await run(source, target, ledger.Path);
            return (target.Snapshot(), result);
        }

        var (reference, _) = await RunAsync((s, t, l) => EngineRun.MigrateAsync(s, t, l, mapping: mapping));
        var (policy, result) = await RunAsync((s, t, l) => EngineRun.SyncAsync(s, t, l, SyncPolicy.Migrate, mapping: mapping));
        static int Messages(List<string> snapshot) => snapshot.Count(l => l.StartsWith("Old|", StringComparison.Ordinal) && !l.EndsWith("|subscribed", StringComparison.Ordinal));
        Assert.Equal(2, Messages(reference));
        Assert.Equal(1, Messages(policy));
        Assert.Contains(result.Warnings, w => w.Contains("\"Older\"", StringComparison.Ordinal) && w.Contains("not synced", StringComparison.Ordinal));
    }

    private static async Task<(List<string> Target, int SideEffects)> StoppedThenResumedAsync(int crashBefore, int crashAfter)
    {
        var faults = new Faults();
        var source = new InMemoryServer("source", faults);
        var target = new InMemoryServer("target", faults) { UidPlus = false };
        Seeds.Tree(source);
        using var ledger = new EngineRun.TempLedger();
        faults.CrashBefore = crashBefore;
        faults.CrashAfter = crashAfter;
        try
        {
            await EngineRun.MigrateAsync(source, target, ledger.Path, new MigrationOptions { BatchMessages = 2 });
        }
        catch (SimulatedCrash)
        {
        }

        var sideEffects = faults.Count;
        faults.Restart();
        await EngineRun.SyncAsync(source, target, ledger.Path, SyncPolicy.Migrate, new MigrationOptions { BatchMessages = 2 });
        faults.Restart();
        await EngineRun.SyncAsync(source, target, ledger.Path, SyncPolicy.Migrate);
        Assert.Equal(0, faults.Count);
        Assert.Equal(0L, Count(ledger.Path, "SELECT COUNT(*) FROM messages;"));
        Assert.Equal(0L, Count(ledger.Path, "SELECT COUNT(*) FROM folder_pairs;"));
        if (crashBefore == 0 && crashAfter == 0)
            Assert.Equal(source.Snapshot().Count(l => !l.EndsWith("|subscribed", StringComparison.Ordinal)), (int)Count(ledger.Path, "SELECT COUNT(*) FROM sync_messages WHERE state = 'paired';"));
        return (target.Snapshot(), sideEffects);
    }

    private static long Count(string ledgerPath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={ledgerPath};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }
}
