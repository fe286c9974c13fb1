using MailSync.Core.Checkpoints;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Unit.Checkpoints;

public sealed class CheckpointLedgerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailsync-ledger-").FullName;

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Rows_and_cursors_survive_reopening()
    {
        var path = PathOf("a.db");
        using (var ledger = CheckpointLedger.Open(path))
        {
            var pair = ledger.GetOrCreatePair("job", "INBOX", "INBOX");
            pair.SourceUidValidity = 5;
            pair.SourceUidNext = 42;
            pair.CompletedUtc = DateTimeOffset.UtcNow;
            ledger.SavePair(pair);
            ledger.Save(pair.Id, [new MessageRecord(7, 3, MessageState.Copied, "id@x", 1000, 500, 510, "\\Seen", "\\Seen", 1, 1, null)]);
        }

        using (var again = CheckpointLedger.Open(path))
        {
            var pair = again.GetOrCreatePair("job", "INBOX", "INBOX");
            Assert.Equal(5u, pair.SourceUidValidity);
            Assert.Equal(42u, pair.SourceUidNext);
            Assert.NotNull(pair.CompletedUtc);
            var row = Assert.Single(again.LoadMessages(pair.Id)).Value;
            Assert.Equal((7u, 3u, MessageState.Copied, 510L), (row.SourceUid, row.TargetUid!.Value, row.State, row.TargetSize));
        }
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_and_left_untouched()
    {
        var path = PathOf("garbage.db");
        var garbage = "this is not sqlite, but it is somebody's file\n"u8.ToArray().Concat(new byte[5000]).ToArray();
        File.WriteAllBytes(path, garbage);
        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains(path, ex.Message);
        Assert.Equal(garbage, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_page_damaged_in_the_middle_stops_the_call_that_reads_it_and_the_file_is_left_untouched()
    {
        // Opening no longer reads the whole file (PRAGMA quick_check grew with the ledger), so a
        // damaged page deep inside is found by the query that reads it: that must be a
        // LedgerException (the job stops), never a silently empty answer or a recreated file.
        var path = PathOf("damaged.db");
        long pairId;
        using (var ledger = CheckpointLedger.Open(path))
        {
            pairId = ledger.GetOrCreatePair("job", "INBOX", "INBOX").Id;
            ledger.Save(pairId, Enumerable.Range(1, 3000).Select(i =>
                new MessageRecord((uint)i, (uint)i, MessageState.Copied, $"id{i}@example.org", 1000 + i, 500, 510, "\\Seen", "\\Seen", 1, 1, null)));
        }

        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            cmd.ExecuteNonQuery();
        }

        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 16 * 4096, $"the test needs a ledger of many pages, got {bytes.Length} bytes");
        // The message rows are most of the file: fill two pages in its middle with noise.
        var middle = bytes.Length / 4096 / 2;
        new Random(3).NextBytes(bytes.AsSpan(middle * 4096, 2 * 4096));
        File.WriteAllBytes(path, bytes);

        using var reopened = CheckpointLedger.Open(path);
        var ex = Assert.Throws<LedgerException>(() => reopened.LoadMessages(pairId));
        Assert.Contains(path, ex.Message);
        Assert.Contains("left untouched", ex.Message);
        reopened.Dispose();
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_newer_schema_is_refused()
    {
        var path = PathOf("newer.db");
        CheckpointLedger.Open(path).Dispose();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '99' WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }

        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains("newer", ex.Message);
    }

    [Fact]
    public void A_foreign_sqlite_database_is_refused()
    {
        var path = PathOf("foreign.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE contacts (name TEXT);";
            cmd.ExecuteNonQuery();
        }

        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains("not a MailSync checkpoint ledger", ex.Message);
    }

    [Fact]
    public void A_job_lock_is_exclusive_until_released()
    {
        var path = PathOf("lock.db");
        using (JobLock.Acquire(path, "alice"))
        {
            var ex = Assert.Throws<LedgerException>(() => JobLock.Acquire(path, "alice"));
            Assert.Contains("already running", ex.Message);
            using var other = JobLock.Acquire(path, "bob");
        }

        using var again = JobLock.Acquire(path, "alice");
    }

    [Fact]
    public void A_version_1_ledger_is_migrated_forward_and_keeps_its_rows()
    {
        var path = PathOf("v1.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            // The v1 schema as released with issue 2, with one copied row.
            cmd.CommandText = """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE folder_pairs (id INTEGER PRIMARY KEY, job TEXT NOT NULL, source_folder TEXT NOT NULL, target_folder TEXT NOT NULL,
                    source_uidvalidity INTEGER NOT NULL DEFAULT 0, target_uidvalidity INTEGER NOT NULL DEFAULT 0, source_uidnext INTEGER NOT NULL DEFAULT 0,
                    source_highestmodseq INTEGER NOT NULL DEFAULT 0, target_uidnext INTEGER NOT NULL DEFAULT 0, target_highestmodseq INTEGER NOT NULL DEFAULT 0,
                    completed_utc TEXT, UNIQUE (job, source_folder, target_folder));
                CREATE TABLE messages (pair_id INTEGER NOT NULL REFERENCES folder_pairs(id), source_uid INTEGER NOT NULL, target_uid INTEGER, state TEXT NOT NULL,
                    message_id TEXT, internal_date INTEGER NOT NULL, source_size INTEGER NOT NULL, target_size INTEGER NOT NULL, source_flags TEXT NOT NULL,
                    target_flags TEXT NOT NULL, target_uidnext_before INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_utc TEXT NOT NULL,
                    PRIMARY KEY (pair_id, source_uid)) WITHOUT ROWID;
                CREATE INDEX messages_state ON messages (pair_id, state);
                INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'mailsync');
                INSERT INTO folder_pairs (id, job, source_folder, target_folder) VALUES (1, 'job', 'INBOX', 'INBOX');
                INSERT INTO messages VALUES (1, 7, 3, 'copied', 'id@x', 1000, 500, 510, '', '', 1, 1, NULL, '2026-01-01T00:00:00Z');
                """;
            cmd.ExecuteNonQuery();
        }

        using (var ledger = CheckpointLedger.Open(path))
        {
            // The copied IMAP row went through v2 and v3 into v4's side-indexed tables.
            var synced = Assert.Single(ledger.LoadSyncPairs("job"));
            var moved = Assert.Single(ledger.LoadSyncRows(synced.Id));
            Assert.Equal((7u, 3u, SyncState.Paired), (moved.UidA!.Value, moved.UidB!.Value, moved.State));
            // The v2 POP3 columns work on the old tables, where the POP3 engine keeps its rows.
            var pair = ledger.GetOrCreatePair("pop", "INBOX", "INBOX");
            var row = new MessageRecord(8, 3, MessageState.Copied, "id@x", 1000, 500, 510, "", "", 1, 1, null) { SourceKey = "UID8-1700000000", DateSource = "Received" };
            ledger.Save(pair.Id, [row]);
            Assert.Equal(row.SourceKey, Assert.Single(ledger.LoadMessages(pair.Id)).Value.SourceKey);
        }

        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT value FROM meta WHERE key = 'schema_version';";
            Assert.Equal(CheckpointLedger.SchemaVersion.ToString(), cmd.ExecuteScalar());
        }
    }

    [Fact]
    public void A_version_2_ledger_gains_the_side_indexed_tables_and_its_migrate_rows_move_into_them()
    {
        var path = PathOf("v2.db");
        using (var ledger = CheckpointLedger.Open(path))
        {
            var pair = ledger.GetOrCreatePair("job", "INBOX", "INBOX");
            ledger.Save(pair.Id, [new MessageRecord(7, 3, MessageState.Copied, "id@x", 1000, 500, 510, "\\Seen", "\\Seen", 1, 1, null)]);
            var pop = ledger.GetOrCreatePair("pop", "INBOX", "INBOX");
            ledger.Save(pop.Id, [new MessageRecord(1, 5, MessageState.Copied, null, 1000, 500, 510, "", "\\Seen", 1, 1, null) { SourceKey = "uidl-1" }]);
        }

        // Back to what a v2 build left: no sync tables, version 2.
        Execute(path, "DROP TABLE sync_messages; DROP TABLE sync_pairs; UPDATE meta SET value = '2' WHERE key = 'schema_version';");

        using (var ledger = CheckpointLedger.Open(path))
        {
            // The IMAP migrate row is now side-indexed: source = A, target = B, copied = paired.
            var pair = Assert.Single(ledger.LoadSyncPairs("job"));
            Assert.Equal(("INBOX", "INBOX", "migrate"), (pair.NameA, pair.NameB, pair.Mode));
            var row = Assert.Single(ledger.LoadSyncRows(pair.Id));
            Assert.Equal((7u, 3u, SyncState.Paired, "id@x", 500L, 510L), (row.UidA!.Value, row.UidB!.Value, row.State, row.MessageId, row.SizeA, row.SizeB));
            Assert.Empty(ledger.LoadMessages(ledger.GetOrCreatePair("job", "INBOX", "INBOX").Id));
            // POP3 rows stay where the POP3 engine reads them.
            Assert.Single(ledger.LoadMessages(ledger.GetOrCreatePair("pop", "INBOX", "INBOX").Id));
            Assert.Empty(ledger.LoadSyncPairs("pop"));
        }

        Assert.Equal("4", Query(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
    }

    /// <summary>
    /// A v3 ledger (two-way pairs one to one: <c>UNIQUE (job, name_b)</c>) keeps its pairs and rows,
    /// its pairs are marked as written by two-way sync, and from v4 a migrate job may have several
    /// pairs filling one target folder.
    /// </summary>
    [Fact]
    public void A_version_3_ledger_keeps_its_sync_pairs_and_then_allows_several_pairs_into_one_folder()
    {
        var path = PathOf("v3.db");
        using (CheckpointLedger.Open(path))
        {
        }

        // The v3 shape of sync_pairs, with one pair and one row.
        Execute(path, """
            DROP TABLE sync_pairs;
            CREATE TABLE sync_pairs (id INTEGER PRIMARY KEY, job TEXT NOT NULL, name_a TEXT NOT NULL, name_b TEXT NOT NULL,
                uidvalidity_a INTEGER NOT NULL DEFAULT 0, uidvalidity_b INTEGER NOT NULL DEFAULT 0, uidnext_a INTEGER NOT NULL DEFAULT 0,
                uidnext_b INTEGER NOT NULL DEFAULT 0, highestmodseq_a INTEGER NOT NULL DEFAULT 0, highestmodseq_b INTEGER NOT NULL DEFAULT 0,
                count_a INTEGER NOT NULL DEFAULT 0, count_b INTEGER NOT NULL DEFAULT 0, renaming_from_a TEXT, renaming_from_b TEXT,
                subscribed_a INTEGER, subscribed_b INTEGER, completed_utc TEXT, UNIQUE (job, name_a), UNIQUE (job, name_b));
            INSERT INTO sync_pairs (id, job, name_a, name_b, uidvalidity_a, uidvalidity_b, subscribed_a) VALUES (4, 'two', 'Work', 'Job', 11, 12, 1);
            INSERT INTO sync_messages (pair_id, uid_a, uid_b, state, internal_date, size_a, size_b, flags_a, flags_b, updated_utc)
                VALUES (4, 1, 2, 'paired', 1000, 10, 10, '', '', '2026-12-01T00:00:00Z');
            UPDATE meta SET value = '3' WHERE key = 'schema_version';
            """);

        using (var ledger = CheckpointLedger.Open(path))
        {
            var pair = Assert.Single(ledger.LoadSyncPairs("two"));
            Assert.Equal((4L, "Work", "Job", 11u, 12u, (bool?)true, "sync"), (pair.Id, pair.NameA, pair.NameB, pair.CursorA.UidValidity, pair.CursorB.UidValidity, pair.SubscribedA, pair.Mode));
            Assert.Single(ledger.LoadSyncRows(pair.Id));
            ledger.CreateSyncPair("merge", "Old", "Archive", "migrate");
            ledger.CreateSyncPair("merge", "Older", "Archive", "migrate");
            Assert.Equal(2, ledger.LoadSyncPairs("merge").Count);
            // The source folder stays unique per job.
            Assert.ThrowsAny<SqliteException>(() => ledger.CreateSyncPair("merge", "Old", "Other", "migrate"));
        }

        Assert.Equal("4", Query(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
    }

    private static void Execute(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static string? Query(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar()?.ToString();
    }

    [Fact]
    public void A_sync_row_is_unique_per_side_uid_within_its_pair_and_a_clash_is_an_error_not_a_silent_replace()
    {
        using var ledger = CheckpointLedger.Open(PathOf("sync-unique.db"));
        var pair = ledger.CreateSyncPair("sync", "INBOX", "INBOX");
        ledger.SaveSyncRows([(pair.Id, new SyncRow(0, 5, 6, SyncState.Paired, null, null, 1000, 100, 100, "", ""))]);
        Assert.ThrowsAny<Microsoft.Data.Sqlite.SqliteException>(() =>
            ledger.SaveSyncRows([(pair.Id, new SyncRow(0, 5, 7, SyncState.Paired, null, null, 1000, 100, 100, "", ""))]));
        Assert.Single(ledger.LoadSyncRows(pair.Id));
    }

    [Fact]
    public void Pop3_columns_round_trip_and_a_key_is_unique_within_a_pair()
    {
        var path = PathOf("pop3.db");
        using var ledger = CheckpointLedger.Open(path);
        var pair = ledger.GetOrCreatePair("pop", "INBOX", "INBOX");
        var deleted = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        ledger.Save(pair.Id, [new MessageRecord(1, 5, MessageState.Copied, null, 1000, 500, 510, "", "\\Seen", 1, 1, null)
        {
            SourceKey = "000000014f2b6f3a", DateSource = "Date", SourceDeletedUtc = deleted,
        }]);
        var row = Assert.Single(ledger.LoadMessages(pair.Id)).Value;
        Assert.Equal(("000000014f2b6f3a", "Date", deleted), (row.SourceKey, row.DateSource, row.SourceDeletedUtc));
        // One row per key: saving the key under another number replaces the row, never adds a second.
        ledger.Save(pair.Id, [row with { SourceUid = 2 }]);
        Assert.Equal(2u, Assert.Single(ledger.LoadMessages(pair.Id)).Key);
    }

    [Fact]
    public void Claimed_target_uids_span_the_named_jobs_filling_the_same_folder()
    {
        using var ledger = CheckpointLedger.Open(PathOf("claims.db"));
        var pop = ledger.GetOrCreatePair("pop", "INBOX", "INBOX");
        var imap = ledger.GetOrCreatePair("imap", "INBOX", "INBOX");
        var elsewhere = ledger.GetOrCreatePair("imap", "Sent", "Sent");
        foreach (var p in new[] { pop, imap, elsewhere })
        {
            p.TargetUidValidity = 77;
            ledger.SavePair(p);
        }

        MessageRecord Row(uint source, uint? target, MessageState state) => new(source, target, state, null, 1, 1, 1, "", "", 1, 0, null);
        ledger.Save(pop.Id, [Row(1, 10, MessageState.Copied), Row(2, null, MessageState.Pending)]);
        ledger.Save(imap.Id, [Row(1, 11, MessageState.Copied), Row(2, null, MessageState.Failed)]);
        ledger.Save(elsewhere.Id, [Row(1, 12, MessageState.Copied)]);

        Assert.Equal([10u, 11u], ledger.ClaimedTargetUids(["pop", "imap"], "INBOX", 77).Order());
        Assert.Equal([10u], ledger.ClaimedTargetUids(["pop"], "INBOX", 77).Order());
        // Another account's INBOX can have the same UIDVALIDITY: only the named jobs count.
        Assert.Empty(ledger.ClaimedTargetUids(["someone-else"], "INBOX", 77));
        Assert.Empty(ledger.ClaimedTargetUids(["pop", "imap"], "INBOX", 78));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
