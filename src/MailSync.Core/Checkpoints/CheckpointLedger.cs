using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MailSync.Core.Checkpoints;

/// <summary>
/// The SQLite journal of what was copied where. Every write is one transaction with synchronous
/// FULL in WAL mode: an intent that was committed survives a power cut, which is what makes
/// "record intent, then APPEND" safe. Never recreated: a file that is not a readable ledger of a
/// known schema stops the run.
/// </summary>
public sealed partial class CheckpointLedger : IDisposable
{
    // One SQLite connection serves every worker of a job (several connection pairs copy at once);
    // each public call holds the gate, so a batch's rows still go in one transaction.
    private readonly Lock _gate = new();

    // SQLite result codes that mean the file, not the query, is at fault.
    private const int SqliteIoError = 10;
    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;
    /// <summary>The schema this build writes; older ones are migrated forward, newer ones refused.</summary>
    /// <remarks>
    /// v2 added the POP3 columns: source_key (UIDL or fingerprint), date_source, source_deleted_utc.
    /// v3 added the two-way sync tables (sync_pairs, sync_messages): side-indexed, a row may lack either side's UID.
    /// </remarks>
    public const int SchemaVersion = 4;

    private readonly SqliteConnection _connection;

    private CheckpointLedger(SqliteConnection connection, string path)
    {
        _connection = connection;
        Path = path;
    }

    public string Path { get; }

    public static CheckpointLedger Open(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var isNew = !File.Exists(fullPath) || new FileInfo(fullPath).Length == 0;
        if (isNew)
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(fullPath)!);

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = isNew ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            var ledger = new CheckpointLedger(connection, fullPath);
            ledger.Execute("PRAGMA busy_timeout = 5000;");
            if (isNew)
                ledger.CreateSchema();
            else
                ledger.MigrateForward(ledger.CheckExisting());
            ledger.Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
            return ledger;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new LedgerException($"the checkpoint database {fullPath} cannot be read ({ex.Message.TrimEnd('.')}); it was left untouched. Restore it from a backup, or move it away to start over (messages already copied would then be matched by content, not copied twice)", ex);
        }
        catch (LedgerException)
        {
            connection.Dispose();
            throw;
        }
    }

    private void CreateSchema()
    {
        using var tx = _connection.BeginTransaction();
        Execute("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE folder_pairs (
                id INTEGER PRIMARY KEY,
                job TEXT NOT NULL,
                source_folder TEXT NOT NULL,
                target_folder TEXT NOT NULL,
                source_uidvalidity INTEGER NOT NULL DEFAULT 0,
                target_uidvalidity INTEGER NOT NULL DEFAULT 0,
                source_uidnext INTEGER NOT NULL DEFAULT 0,
                source_highestmodseq INTEGER NOT NULL DEFAULT 0,
                target_uidnext INTEGER NOT NULL DEFAULT 0,
                target_highestmodseq INTEGER NOT NULL DEFAULT 0,
                completed_utc TEXT,
                UNIQUE (job, source_folder, target_folder));
            CREATE TABLE messages (
                pair_id INTEGER NOT NULL REFERENCES folder_pairs(id),
                source_uid INTEGER NOT NULL,
                target_uid INTEGER,
                state TEXT NOT NULL,
                message_id TEXT,
                internal_date INTEGER NOT NULL,
                source_size INTEGER NOT NULL,
                target_size INTEGER NOT NULL,
                source_flags TEXT NOT NULL,
                target_flags TEXT NOT NULL,
                target_uidnext_before INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                updated_utc TEXT NOT NULL,
                PRIMARY KEY (pair_id, source_uid)) WITHOUT ROWID;
            CREATE INDEX messages_state ON messages (pair_id, state);
            """, tx);
        AddVersion2(tx);
        AddVersion3(tx);
        AddVersion4(tx);
        Execute($"INSERT INTO meta (key, value) VALUES ('schema_version', '{SchemaVersion}'), ('application', 'mailsync');", tx);
        tx.Commit();
    }

    // POP3 messages are known by a string (UIDL or fingerprint); they get a per-pair number in
    // source_uid so that matching, reconciliation and reporting stay one code path.
    private void AddVersion2(SqliteTransaction tx) => Execute("""
        ALTER TABLE messages ADD COLUMN source_key TEXT;
        ALTER TABLE messages ADD COLUMN date_source TEXT;
        ALTER TABLE messages ADD COLUMN source_deleted_utc TEXT;
        CREATE UNIQUE INDEX messages_source_key ON messages (pair_id, source_key) WHERE source_key IS NOT NULL;
        """, tx);

    private void MigrateForward(int found)
    {
        if (found >= SchemaVersion)
            return;
        // v4 rebuilds sync_pairs, which sync_messages references: SQLite's procedure for that turns
        // foreign key enforcement off around the transaction (it cannot change inside one) and
        // checks the references before committing.
        var enforced = Convert.ToInt64(Scalar("PRAGMA foreign_keys;"), CultureInfo.InvariantCulture) != 0;
        Execute("PRAGMA foreign_keys = OFF;");
        try
        {
            MigrateForwardUnenforced(found);
        }
        finally
        {
            if (enforced)
                Execute("PRAGMA foreign_keys = ON;");
        }
    }

    private void MigrateForwardUnenforced(int found)
    {
        using var tx = _connection.BeginTransaction();
        if (found < 2)
            AddVersion2(tx);
        if (found < 3)
            AddVersion3(tx);
        if (found < 4)
            AddVersion4(tx);
        using (var check = Command("PRAGMA foreign_key_check;", tx))
        using (var broken = check.ExecuteReader())
        {
            if (broken.Read())
                throw new LedgerException($"the checkpoint database {Path} has rows that refer to a missing {broken.GetString(2)} row (table {broken.GetString(0)}); it was left untouched. Restore it from a backup");
        }

        Execute($"UPDATE meta SET value = '{SchemaVersion}' WHERE key = 'schema_version';", tx);
        tx.Commit();
    }

    private int CheckExisting()
    {
        // No PRAGMA quick_check here: it reads the whole file, so a run with nothing to do would
        // grow with the number of messages ever copied. A damaged header fails the queries below;
        // a damaged page fails the call that reads it, which stops the job (Damaged) untouched.
        var hasMeta = Convert.ToInt64(Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta';"), CultureInfo.InvariantCulture) == 1;
        var version = hasMeta ? Scalar("SELECT value FROM meta WHERE key = 'schema_version';") as string : null;
        if (version is null || !int.TryParse(version, CultureInfo.InvariantCulture, out var found))
            throw new LedgerException($"{Path} is an SQLite database but not a MailSync checkpoint ledger; it was left untouched. Pass another --state path");
        if (found > SchemaVersion)
            throw new LedgerException($"the checkpoint database {Path} has schema version {found}, written by a newer MailSync (this one reads up to {SchemaVersion}); upgrade MailSync");
        return found;
    }

    public FolderPairState GetOrCreatePair(string job, string sourceFolder, string targetFolder)
    {
        lock (_gate)
        {
            try
            {
                // Looked up first: a write (and its fsync) only for a pair never seen before.
                if (FindPair(job, sourceFolder, targetFolder) is { } known)
                    return known;
                Execute("INSERT OR IGNORE INTO folder_pairs (job, source_folder, target_folder) VALUES ($job, $s, $t);", null,
                    ("$job", job), ("$s", sourceFolder), ("$t", targetFolder));
                return FindPair(job, sourceFolder, targetFolder) ?? throw new LedgerException($"the ledger did not keep the folder pair {sourceFolder} -> {targetFolder}");
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    /// <summary>The pair's row, or null when no run has recorded it yet (nothing is written).</summary>
    public FolderPairState? FindPair(string job, string sourceFolder, string targetFolder)
    {
        lock (_gate)
        {
            try
            {
                using var cmd = Command("""
                    SELECT id, source_uidvalidity, target_uidvalidity, source_uidnext, source_highestmodseq, target_uidnext, target_highestmodseq, completed_utc
                    FROM folder_pairs WHERE job = $job AND source_folder = $s AND target_folder = $t;
                    """, null, ("$job", job), ("$s", sourceFolder), ("$t", targetFolder));
                using var r = cmd.ExecuteReader();
                if (!r.Read())
                    return null;
                return new FolderPairState
                {
                    Id = r.GetInt64(0),
                    Job = job,
                    SourceFolder = sourceFolder,
                    TargetFolder = targetFolder,
                    SourceUidValidity = (uint)r.GetInt64(1),
                    TargetUidValidity = (uint)r.GetInt64(2),
                    SourceUidNext = (uint)r.GetInt64(3),
                    SourceHighestModSeq = (ulong)r.GetInt64(4),
                    TargetUidNext = (uint)r.GetInt64(5),
                    TargetHighestModSeq = (ulong)r.GetInt64(6),
                    CompletedUtc = r.IsDBNull(7) ? null : DateTimeOffset.Parse(r.GetString(7), CultureInfo.InvariantCulture),
                };
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    public void SavePair(FolderPairState pair)
    {
        lock (_gate)
        {
            try
            {
                Execute("""
                    UPDATE folder_pairs SET source_uidvalidity = $sv, target_uidvalidity = $tv, source_uidnext = $sn,
                        source_highestmodseq = $sm, target_uidnext = $tn, target_highestmodseq = $tm, completed_utc = $done
                    WHERE id = $id;
                    """, null,
                    ("$sv", (long)pair.SourceUidValidity), ("$tv", (long)pair.TargetUidValidity), ("$sn", (long)pair.SourceUidNext),
                    ("$sm", (long)pair.SourceHighestModSeq), ("$tn", (long)pair.TargetUidNext), ("$tm", (long)pair.TargetHighestModSeq),
                    ("$done", pair.CompletedUtc?.ToString("O", CultureInfo.InvariantCulture)), ("$id", pair.Id));
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    private const string SelectRows = """
        SELECT source_uid, target_uid, state, message_id, internal_date, source_size, target_size,
               source_flags, target_flags, target_uidnext_before, attempts, last_error,
               source_key, date_source, source_deleted_utc
        FROM messages
        """;

    public Dictionary<uint, MessageRecord> LoadMessages(long pairId)
    {
        lock (_gate)
        {
            try
            {
                var result = new Dictionary<uint, MessageRecord>();
                using var cmd = Command($"{SelectRows} WHERE pair_id = $p;", null, ("$p", pairId));
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    var record = ReadRow(r);
                    result[record.SourceUid] = record;
                }

                return result;
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    private static MessageRecord ReadRow(SqliteDataReader r) => new(
        (uint)r.GetInt64(0),
        r.IsDBNull(1) ? null : (uint)r.GetInt64(1),
        Enum.Parse<MessageState>(r.GetString(2), ignoreCase: true),
        r.IsDBNull(3) ? null : r.GetString(3),
        r.GetInt64(4),
        r.GetInt64(5),
        r.GetInt64(6),
        r.GetString(7),
        r.GetString(8),
        (uint)r.GetInt64(9),
        r.GetInt32(10),
        r.IsDBNull(11) ? null : r.GetString(11))
    {
        SourceKey = r.IsDBNull(12) ? null : r.GetString(12),
        DateSource = r.IsDBNull(13) ? null : r.GetString(13),
        SourceDeletedUtc = r.IsDBNull(14) ? null : DateTimeOffset.Parse(r.GetString(14), CultureInfo.InvariantCulture),
    };

    /// <summary>Inserts or replaces the rows in one transaction (one fsync per batch, not per message).</summary>
    public void Save(long pairId, IEnumerable<MessageRecord> records) => Save(pairId, records, replaceAll: false);

    /// <summary>Replaces every row of a pair in one transaction, for re-pairing after a UIDVALIDITY change.</summary>
    public void ReplaceAll(long pairId, IEnumerable<MessageRecord> records) => Save(pairId, records, replaceAll: true);

    private void Save(long pairId, IEnumerable<MessageRecord> records, bool replaceAll)
    {
        lock (_gate)
        {
            try
            {
                using var tx = _connection.BeginTransaction();
                if (replaceAll)
                    Execute("DELETE FROM messages WHERE pair_id = $p;", tx, ("$p", pairId));
                using var cmd = Command("""
                    INSERT OR REPLACE INTO messages (pair_id, source_uid, target_uid, state, message_id, internal_date, source_size,
                        target_size, source_flags, target_flags, target_uidnext_before, attempts, last_error, updated_utc,
                        source_key, date_source, source_deleted_utc)
                    VALUES ($p, $su, $tu, $st, $mid, $d, $ss, $ts, $sf, $tf, $before, $a, $err, $now, $key, $ds, $del);
                    """, tx);
                var p = new Dictionary<string, SqliteParameter>();
                foreach (var name in new[] { "$p", "$su", "$tu", "$st", "$mid", "$d", "$ss", "$ts", "$sf", "$tf", "$before", "$a", "$err", "$now", "$key", "$ds", "$del" })
                    p[name] = cmd.Parameters.Add(new SqliteParameter(name, null));
                var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                foreach (var m in records)
                {
                    p["$p"].Value = pairId;
                    p["$su"].Value = (long)m.SourceUid;
                    p["$tu"].Value = m.TargetUid is { } t ? (long)t : DBNull.Value;
                    p["$st"].Value = m.State.ToString().ToLowerInvariant();
                    p["$mid"].Value = (object?)m.MessageId ?? DBNull.Value;
                    p["$d"].Value = m.InternalDateUnix;
                    p["$ss"].Value = m.SourceSize;
                    p["$ts"].Value = m.TargetSize;
                    p["$sf"].Value = m.SourceFlags;
                    p["$tf"].Value = m.TargetFlags;
                    p["$before"].Value = (long)m.TargetUidNextBefore;
                    p["$a"].Value = m.Attempts;
                    p["$err"].Value = (object?)m.LastError ?? DBNull.Value;
                    p["$now"].Value = now;
                    p["$key"].Value = (object?)m.SourceKey ?? DBNull.Value;
                    p["$ds"].Value = (object?)m.DateSource ?? DBNull.Value;
                    p["$del"].Value = (object?)m.SourceDeletedUtc?.ToString("O", CultureInfo.InvariantCulture) ?? DBNull.Value;
                    cmd.ExecuteNonQuery();
                }

                tx.Commit();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    /// <summary>Forgets rows (a pending intent that reconciliation proved never landed, or a source message that is gone).</summary>
    public void Delete(long pairId, IEnumerable<uint> sourceUids)
    {
        lock (_gate)
        {
            try
            {
                using var tx = _connection.BeginTransaction();
                using var cmd = Command("DELETE FROM messages WHERE pair_id = $p AND source_uid = $u;", tx);
                cmd.Parameters.AddWithValue("$p", pairId);
                var u = cmd.Parameters.Add(new SqliteParameter("$u", null));
                foreach (var uid in sourceUids)
                {
                    u.Value = (long)uid;
                    cmd.ExecuteNonQuery();
                }

                tx.Commit();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    /// <summary>
    /// Target UIDs that the given <paramref name="jobs"/> (those writing into one target account)
    /// have recorded in <paramref name="targetFolder"/> with this UIDVALIDITY. Reconciliation must
    /// not claim them for another pending row: two jobs filling one folder could otherwise take
    /// each other's copies. The jobs are named because folder name and UIDVALIDITY alone are not
    /// unique across accounts (Dovecot derives UIDVALIDITY from the creation time).
    /// </summary>
    public HashSet<uint> ClaimedTargetUids(IReadOnlyCollection<string> jobs, string targetFolder, uint targetUidValidity)
    {
        lock (_gate)
        {
            try
            {
                var result = new HashSet<uint>();
                using var cmd = Command("""
                    SELECT m.target_uid FROM messages m JOIN folder_pairs p ON p.id = m.pair_id
                    WHERE p.job = $job AND p.target_folder = $t AND p.target_uidvalidity = $v AND m.state = 'copied' AND m.target_uid IS NOT NULL;
                    """, null, ("$job", null), ("$t", targetFolder), ("$v", (long)targetUidValidity));
                foreach (var job in jobs)
                {
                    cmd.Parameters["$job"].Value = job;
                    using var r = cmd.ExecuteReader();
                    while (r.Read())
                        result.Add((uint)r.GetInt64(0));
                }

                return result;
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    /// <summary>
    /// A pair's rows counted by state, plus its failed rows, without loading the copied ones:
    /// what a folder skipped as unchanged needs for its report, at a cost that does not grow with
    /// the number of messages copied.
    /// </summary>
    public (int Copied, int Pending, List<MessageRecord> Failed) Tally(long pairId)
    {
        lock (_gate)
        {
            try
            {
                int copied = 0, pending = 0;
                using (var cmd = Command("SELECT state, COUNT(*) FROM messages WHERE pair_id = $p AND state IN ('copied', 'pending') GROUP BY state;", null, ("$p", pairId)))
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        if (r.GetString(0) == "copied")
                            copied = r.GetInt32(1);
                        else
                            pending = r.GetInt32(1);
                    }
                }

                var failed = new List<MessageRecord>();
                using (var cmd = Command($"{SelectRows} WHERE pair_id = $p AND state = 'failed';", null, ("$p", pairId)))
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                        failed.Add(ReadRow(r));
                }

                return (copied, pending, failed);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    /// <summary>A damaged page found in use: the job stops, the file is left as it is.</summary>
    private LedgerException Damaged(SqliteException ex)
        => new($"the checkpoint database {Path} failed ({ex.Message.TrimEnd('.')}); it was left untouched. Restore it from a backup, or move it away to start over (messages already copied would then be matched by content, not copied twice)", ex);

    public void Dispose() => _connection.Dispose();

    private SqliteCommand Command(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters)
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    private void Execute(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, tx, parameters);
        cmd.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var cmd = Command(sql, null);
        return cmd.ExecuteScalar();
    }
}
