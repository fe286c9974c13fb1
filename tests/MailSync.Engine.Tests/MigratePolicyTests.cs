using System.Globalization;
using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Mapping;
using MailSync.Core.Sync;
using Microsoft.Data.Sqlite;

namespace MailSync.Engine.Tests;

/// <summary>
/// Migrate is the engine's one-way policy: what a second run after a change on either server
/// leaves on the target (each row states it, and one more run writes nothing), folders merged by
/// a rename, and a ledger written by the migrate engine of schema v3 (rows left in flight
/// included) carried forward by schema v4 and finished without a duplicate.
/// </summary>
public sealed class MigratePolicyTests
{
    /// <summary>
    /// A change made between two runs. <see cref="Apply"/> makes it and returns how the source's
    /// snapshot after the change turns into the target's expected one: migrate copies new mail,
    /// carries flag changes as deltas, never deletes, never writes the source.
    /// </summary>
    public sealed record Change(string Name, Func<InMemoryServer, InMemoryServer, Func<List<string>, List<string>>> Apply)
    {
        public override string ToString() => Name;
    }

    private static List<string> Replace(List<string> lines, string old, string @new)
    {
        var result = lines.ToList();
        Assert.True(result.Remove(old), $"no line {old}");
        result.Add(@new);
        return [.. result.Order(StringComparer.Ordinal)];
    }

    private static List<string> Plus(List<string> lines, params string[] more) => [.. lines.Concat(more).Order(StringComparer.Ordinal)];

    public static TheoryData<Change> Changes() =>
    [
        new("nothing", (_, _) => after => after),
        new("new mail, a flag set and a keyword removed on the source", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            inbox.Append(Seeds.Message(30), MessageFlags.None, [], Seeds.Start.AddDays(30));
            inbox.SetFlags(inbox.Messages[1].Uid, MessageFlags.Flagged, []);
            inbox.SetFlags(inbox.Messages[3].Uid, MessageFlags.None, []);
            return after => after;
        }),
        new("a flag set on the target copy only stays, and the source's change still goes", (source, target) =>
        {
            var copy = target.Folders["INBOX"];
            copy.SetFlags(copy.Messages[1].Uid, MessageFlags.Answered, ["mine"]);
            var inbox = source.Folders["INBOX"];
            inbox.SetFlags(inbox.Messages[1].Uid, MessageFlags.Seen, []);
            var m = inbox.Messages[1];
            return after => Replace(after, InMemoryServer.Line("INBOX", m), InMemoryServer.Line("INBOX", m, MessageFlags.Seen | MessageFlags.Answered, ["mine"]));
        }),
        new("a flag removed on the target copy is not put back while the source does not change it", (source, target) =>
        {
            var copy = target.Folders["INBOX"];
            copy.SetFlags(copy.Messages[0].Uid, MessageFlags.None, []);
            var m = source.Folders["INBOX"].Messages[0];
            return after => Replace(after, InMemoryServer.Line("INBOX", m), InMemoryServer.Line("INBOX", m, MessageFlags.None, []));
        }),
        new("a message expunged on the source stays on the target", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            var gone = InMemoryServer.Line("INBOX", inbox.Messages[2]);
            inbox.Expunge([inbox.Messages[2].Uid]);
            return after => Plus(after, gone);
        }),
        new("a message moved on the source is copied into its new folder, the old copy stays", (source, _) =>
        {
            var inbox = source.Folders["INBOX"];
            var old = InMemoryServer.Line("INBOX", inbox.Messages[4]);
            inbox.MoveTo(inbox.Messages[4].Uid, source.Folders["Archive"]);
            return after => Plus(after, old);
        }),
        new("a folder and a message only the target has are left alone, nothing is written to the source", (_, target) =>
        {
            var own = target.Add("Own");
            own.Append(Seeds.Message(50), MessageFlags.None, [], Seeds.Start.AddDays(50));
            target.Folders["INBOX"].Append(Seeds.Message(51), MessageFlags.None, [], Seeds.Start.AddDays(51));
            var lines = new[] { InMemoryServer.Line("Own", own.Messages[0]), InMemoryServer.Line("INBOX", target.Folders["INBOX"].Messages[^1]), "Own|subscribed" };
            return after => Plus(after, lines);
        }),
        new("a folder renamed on the source is copied under its new name, the old one stays on the target", (source, _) =>
        {
            var old = source.Folders["Archive/2020"].Messages.Select(m => InMemoryServer.Line("Archive/2020", m)).Append("Archive/2020|subscribed").ToArray();
            source.Rename("Archive/2020", "Y2020");
            return after => Plus(after, old);
        }),
    ];

    /// <summary>Two runs with the change between: the target as the row says, the source untouched by the job, and a third run writes nothing.</summary>
    [Theory]
    [MemberData(nameof(Changes))]
    public async Task A_second_run_after_a_change_leaves_the_target_as_migrate_should(Change change)
    {
        var (faults, source, target) = Servers(withTree: true);
        using var ledger = new EngineRun.TempLedger();
        await EngineRun.RunAsync(source, target, ledger.Path);
        Assert.Equal(source.Snapshot(), target.Snapshot());
        var expected = change.Apply(source, target);
        var sourceBefore = source.Snapshot();
        await EngineRun.RunAsync(source, target, ledger.Path);
        Assert.Equal(sourceBefore, source.Snapshot());
        Assert.Equal(expected(source.Snapshot()), target.Snapshot());
        faults.Restart();
        await EngineRun.RunAsync(source, target, ledger.Path);
        Assert.Equal(0, faults.Count);
    }

    /// <summary>
    /// Two source folders renamed onto one target folder are merged, each message once (a twin
    /// across the two folders twice, as the source has it twice), and their flag changes reach
    /// the right copies; a rerun writes nothing. Interrupted at every step in <see cref="InterruptEveryStepTests"/>.
    /// </summary>
    [Fact]
    public async Task Two_source_folders_renamed_onto_one_target_folder_are_merged()
    {
        var mapping = new FolderMappingOptions([], [], new Dictionary<string, string> { ["Older"] = "Old" }, null);
        var (faults, source, target) = Servers(withTree: false);
        var old = source.Add("Old");
        old.Append(Seeds.Message(1), MessageFlags.Seen, [], Seeds.Start);
        var older = source.Add("Older");
        older.Append(Seeds.Message(2), MessageFlags.None, [], Seeds.Start.AddDays(1));
        older.Append(Seeds.Message(1), MessageFlags.None, [], Seeds.Start);
        using var ledger = new EngineRun.TempLedger();
        var first = await EngineRun.RunAsync(source, target, ledger.Path, mapping: mapping);
        // The mapping's own notice of the merge, as migrate has always given it; nothing left out.
        var warning = Assert.Single(first.Warnings);
        Assert.Contains("all map to target \"Old\"", warning, StringComparison.Ordinal);
        older.SetFlags(older.Messages[1].Uid, MessageFlags.Flagged, []);
        await EngineRun.RunAsync(source, target, ledger.Path, mapping: mapping);

        string[] expected =
        [
            InMemoryServer.Line("Old", old.Messages[0]),
            InMemoryServer.Line("Old", older.Messages[0]),
            InMemoryServer.Line("Old", older.Messages[1]),
            "INBOX|subscribed",
            "Old|subscribed",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), target.Snapshot());
        faults.Restart();
        await EngineRun.RunAsync(source, target, ledger.Path, mapping: mapping);
        Assert.Equal(0, faults.Count);
    }

    /// <summary>
    /// A job whose migrate runs recorded its INBOX in schema v3's migrate tables, stopped with rows
    /// in flight: two copied, one pending whose APPEND landed, one pending whose APPEND never
    /// landed, one failed. Opening the ledger moves every row into the side-indexed tables (the
    /// old tables are left empty); the next run settles the pending rows by looking (the landed
    /// copy is not appended again, the other is), copies the rest of the account, and leaves the
    /// failed message for <c>--retry-failed</c>, which then copies it. One more run writes nothing.
    /// </summary>
    [Fact]
    public async Task A_v3_migrate_ledger_with_rows_in_flight_is_carried_forward_and_finished_without_a_duplicate()
    {
        var (faults, source, target) = Servers(withTree: true);
        var inbox = source.Folders["INBOX"].Messages;
        var copy = target.Folders["INBOX"];
        for (var i = 0; i < 3; i++)
            copy.Append(inbox[i].Bytes, inbox[i].Flags, inbox[i].Keywords, inbox[i].Date);

        using var ledger = new EngineRun.TempLedger();
        using (CheckpointLedger.Open(ledger.Path))
        {
        }

        using (var db = new SqliteConnection($"Data Source={ledger.Path};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = """
                INSERT INTO folder_pairs (id, job, source_folder, target_folder, source_uidvalidity, target_uidvalidity) VALUES (7, 'job', 'INBOX', 'INBOX', 1, 1);
                UPDATE meta SET value = '3' WHERE key = 'schema_version';
                """;
            cmd.ExecuteNonQuery();
            (string State, uint? TargetUid, uint UidNextBefore)[] rows =
            [
                ("copied", 1, 1), ("copied", 2, 2), ("pending", null, 3), ("pending", null, 4), ("failed", null, 4),
            ];
            for (var i = 0; i < rows.Length; i++)
            {
                var m = inbox[i];
                cmd.CommandText = """
                    INSERT INTO messages (pair_id, source_uid, target_uid, state, message_id, internal_date, source_size, target_size,
                        source_flags, target_flags, target_uidnext_before, attempts, last_error, updated_utc)
                    VALUES (7, $uid, $tuid, $state, $mid, $date, $size, $size, $flags, $flags, $before, 1, $error, '2026-12-01T00:00:00Z');
                    """;
                cmd.Parameters.Clear();
                cmd.Parameters.AddWithValue("$uid", (long)m.Uid);
                cmd.Parameters.AddWithValue("$tuid", rows[i].TargetUid is { } t ? (long)t : DBNull.Value);
                cmd.Parameters.AddWithValue("$state", rows[i].State);
                cmd.Parameters.AddWithValue("$mid", $"m{i}@engine.test");
                cmd.Parameters.AddWithValue("$date", m.Date.ToUnixTimeSeconds());
                cmd.Parameters.AddWithValue("$size", (long)m.Bytes.Length);
                cmd.Parameters.AddWithValue("$flags", FlagText.Format(m.Flags, m.Keywords));
                cmd.Parameters.AddWithValue("$before", (long)rows[i].UidNextBefore);
                cmd.Parameters.AddWithValue("$error", rows[i].State == "failed" ? "the target refused it" : DBNull.Value);
                cmd.ExecuteNonQuery();
            }
        }

        using (CheckpointLedger.Open(ledger.Path))
        {
        }

        Assert.Equal(0L, Count(ledger.Path, "SELECT COUNT(*) FROM messages;"));
        Assert.Equal(0L, Count(ledger.Path, "SELECT COUNT(*) FROM folder_pairs;"));
        Assert.Equal(5L, Count(ledger.Path, "SELECT COUNT(*) FROM sync_messages;"));
        Assert.Equal("4", Count(ledger.Path, "SELECT value FROM meta WHERE key = 'schema_version';").ToString(CultureInfo.InvariantCulture));

        var run = await EngineRun.RunAsync(source, target, ledger.Path);
        var failed = Assert.Single(run.Failures);
        Assert.Contains("the target refused it", failed.Reason, StringComparison.Ordinal);
        var expected = source.Snapshot().Where(l => l != InMemoryServer.Line("INBOX", inbox[4])).ToList();
        Assert.Equal(expected, target.Snapshot());

        await EngineRun.RunAsync(source, target, ledger.Path, new MigrationOptions { RetryFailed = true });
        Assert.Equal(source.Snapshot(), target.Snapshot());
        faults.Restart();
        await EngineRun.RunAsync(source, target, ledger.Path);
        Assert.Equal(0, faults.Count);
        Assert.Equal(0L, Count(ledger.Path, "SELECT COUNT(*) FROM sync_messages WHERE state <> 'paired';"));
    }

    /// <summary>
    /// A migrate job switched to <c>"mode": "sync"</c> (same job name, same ledger): the pairs
    /// migrate wrote are not read as two-way history, where a message the source expunged after
    /// it was copied would look expunged on A since the last sync and be expunged on B. The
    /// folders are paired again by content, as a first sync: nothing deleted, nothing duplicated,
    /// both sides end with the union. A rerun writes nothing.
    /// </summary>
    [Fact]
    public async Task A_migrate_job_switched_to_sync_starts_as_a_first_sync_and_deletes_nothing()
    {
        var (faults, source, target) = Servers(withTree: true);
        using var ledger = new EngineRun.TempLedger();
        await EngineRun.RunAsync(source, target, ledger.Path);
        var inbox = source.Folders["INBOX"];
        inbox.Expunge([inbox.Messages[0].Uid]);
        await EngineRun.RunAsync(source, target, ledger.Path);
        var union = target.Snapshot();
        Assert.Equal(source.Snapshot().Count + 1, union.Count);

        var sync = await EngineRun.SyncAsync(source, target, ledger.Path);
        Assert.Contains(sync.Warnings, w => w.Contains("last run as a migrate job, now as a sync job", StringComparison.Ordinal));
        Assert.Equal(union, target.Snapshot());
        Assert.Equal(union, source.Snapshot());
        faults.Restart();
        await EngineRun.SyncAsync(source, target, ledger.Path);
        Assert.Equal(0, faults.Count);
    }

    /// <summary>
    /// Folders whose names cannot be carried (control characters, an empty or ".." level, 300
    /// levels) are skipped and reported each by name and reason; the rest of the account is
    /// copied, nothing is created for them, and the job ends with failures (exit 3), not stopped.
    /// </summary>
    [Fact]
    public async Task Folders_with_names_that_cannot_be_carried_are_skipped_by_name_and_the_rest_is_copied()
    {
        var (faults, source, target) = Servers(withTree: true);
        string[] bad = ["ctl\u001b[31m", "../../escape", "trailing/", string.Join('/', Enumerable.Repeat("d", 300))];
        foreach (var name in bad)
            source.Add(name).Append(Seeds.Message(90), MessageFlags.None, [], Seeds.Start);
        using var ledger = new EngineRun.TempLedger();
        var result = await EngineRun.RunAsync(source, target, ledger.Path);

        var skipped = result.Folders.Where(f => f.Error is not null).ToList();
        Assert.Equal(bad.Length, skipped.Count);
        Assert.All(skipped, f => Assert.Contains("is not carried: its name", f.Error, StringComparison.Ordinal));
        Assert.Contains(skipped, f => f.SourceFolder == "ctl\\x1B[31m");
        var expected = source.Snapshot().Where(l => !bad.Any(b => l.StartsWith(b + "|", StringComparison.Ordinal))).ToList();
        Assert.Equal(expected, target.Snapshot());
    }

    /// <summary>A source (with <see cref="Seeds.Tree"/> when asked) and an empty target, sharing one fault counter.</summary>
    private static (Faults Faults, InMemoryServer Source, InMemoryServer Target) Servers(bool withTree)
    {
        var faults = new Faults();
        var source = new InMemoryServer("source", faults);
        if (withTree)
            Seeds.Tree(source);
        return (faults, source, new InMemoryServer("target", faults));
    }

    private static long Count(string ledgerPath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={ledgerPath};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
