using System.Globalization;
using MailSync.Core.Model;
using Microsoft.Data.Sqlite;

namespace MailSync.Core.Checkpoints;

/// <summary>The two-way sync half of the ledger (schema v3): folder pairs and side-indexed message rows.</summary>
public sealed partial class CheckpointLedger
{
    // A row is unique per side UID within its pair; a violation is a bug and must surface, so
    // rows are inserted and updated, never INSERT OR REPLACEd (which would delete the other row).
    private void AddVersion3(SqliteTransaction tx) => Execute("""
        CREATE TABLE sync_pairs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            name_a TEXT NOT NULL,
            name_b TEXT NOT NULL,
            uidvalidity_a INTEGER NOT NULL DEFAULT 0,
            uidvalidity_b INTEGER NOT NULL DEFAULT 0,
            uidnext_a INTEGER NOT NULL DEFAULT 0,
            uidnext_b INTEGER NOT NULL DEFAULT 0,
            highestmodseq_a INTEGER NOT NULL DEFAULT 0,
            highestmodseq_b INTEGER NOT NULL DEFAULT 0,
            count_a INTEGER NOT NULL DEFAULT 0,
            count_b INTEGER NOT NULL DEFAULT 0,
            renaming_from_a TEXT,
            renaming_from_b TEXT,
            subscribed_a INTEGER,
            subscribed_b INTEGER,
            completed_utc TEXT,
            UNIQUE (job, name_a),
            UNIQUE (job, name_b));
        CREATE TABLE sync_messages (
            id INTEGER PRIMARY KEY,
            pair_id INTEGER NOT NULL REFERENCES sync_pairs(id),
            uid_a INTEGER,
            uid_b INTEGER,
            state TEXT NOT NULL,
            toward TEXT,
            message_id TEXT,
            internal_date INTEGER NOT NULL,
            size_a INTEGER NOT NULL,
            size_b INTEGER NOT NULL,
            flags_a TEXT NOT NULL,
            flags_b TEXT NOT NULL,
            uidnext_before INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_utc TEXT NOT NULL);
        CREATE UNIQUE INDEX sync_messages_uid_a ON sync_messages (pair_id, uid_a) WHERE uid_a IS NOT NULL;
        CREATE UNIQUE INDEX sync_messages_uid_b ON sync_messages (pair_id, uid_b) WHERE uid_b IS NOT NULL;
        CREATE INDEX sync_messages_state ON sync_messages (pair_id, state);
        """, tx);

    /// <summary>Every two-way folder pair of a job.</summary>
    public List<SyncPairState> LoadSyncPairs(string job) => Guarded(() =>
    {
        var result = new List<SyncPairState>();
        using var cmd = Command("""
            SELECT id, name_a, name_b, uidvalidity_a, uidnext_a, highestmodseq_a, count_a,
                   uidvalidity_b, uidnext_b, highestmodseq_b, count_b, completed_utc, renaming_from_a, renaming_from_b, subscribed_a, subscribed_b, mode
            FROM sync_pairs WHERE job = $job ORDER BY id;
            """, null, ("$job", job));
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result.Add(new SyncPairState
            {
                Id = r.GetInt64(0),
                Job = job,
                NameA = r.GetString(1),
                NameB = r.GetString(2),
                CursorA = new SyncCursor((uint)r.GetInt64(3), (uint)r.GetInt64(4), (ulong)r.GetInt64(5), r.GetInt32(6)),
                CursorB = new SyncCursor((uint)r.GetInt64(7), (uint)r.GetInt64(8), (ulong)r.GetInt64(9), r.GetInt32(10)),
                CompletedUtc = r.IsDBNull(11) ? null : DateTimeOffset.Parse(r.GetString(11), CultureInfo.InvariantCulture),
                RenamingFromA = r.IsDBNull(12) ? null : r.GetString(12),
                RenamingFromB = r.IsDBNull(13) ? null : r.GetString(13),
                SubscribedA = r.IsDBNull(14) ? null : r.GetInt64(14) != 0,
                SubscribedB = r.IsDBNull(15) ? null : r.GetInt64(15) != 0,
                Mode = r.GetString(16),
            });
        }

        return result;
    });

    /// <summary>Starts a folder pair of <paramref name="job"/>, written by the policy named <paramref name="mode"/>.</summary>
    public SyncPairState CreateSyncPair(string job, string nameA, string nameB, string mode = "sync") => Guarded(() =>
    {
        Execute("INSERT INTO sync_pairs (job, name_a, name_b, mode) VALUES ($job, $a, $b, $m);", null, ("$job", job), ("$a", nameA), ("$b", nameB), ("$m", mode));
        return LoadSyncPairs(job).Single(p => p.NameA == nameA && p.NameB == nameB);
    });

    public void SaveSyncPair(SyncPairState pair) => Guarded(() =>
    {
        Execute("""
            UPDATE sync_pairs SET name_a = $na, name_b = $nb,
                uidvalidity_a = $va, uidnext_a = $na2, highestmodseq_a = $ma, count_a = $ca,
                uidvalidity_b = $vb, uidnext_b = $nb2, highestmodseq_b = $mb, count_b = $cb, completed_utc = $done,
                renaming_from_a = $ra, renaming_from_b = $rb, subscribed_a = $sa, subscribed_b = $sb
            WHERE id = $id;
            """, null,
            ("$na", pair.NameA), ("$nb", pair.NameB),
            ("$va", (long)pair.CursorA.UidValidity), ("$na2", (long)pair.CursorA.UidNext), ("$ma", (long)pair.CursorA.HighestModSeq), ("$ca", pair.CursorA.Count),
            ("$vb", (long)pair.CursorB.UidValidity), ("$nb2", (long)pair.CursorB.UidNext), ("$mb", (long)pair.CursorB.HighestModSeq), ("$cb", pair.CursorB.Count),
            ("$done", pair.CompletedUtc?.ToString("O", CultureInfo.InvariantCulture)), ("$id", pair.Id),
            ("$ra", pair.RenamingFromA), ("$rb", pair.RenamingFromB),
            ("$sa", pair.SubscribedA is { } sa ? (sa ? 1 : 0) : null), ("$sb", pair.SubscribedB is { } sb ? (sb ? 1 : 0) : null));
        return true;
    });

    /// <summary>Forgets a pair and its rows: the folder is gone on both sides.</summary>
    public void DeleteSyncPair(long pairId) => Guarded(() =>
    {
        using var tx = _connection.BeginTransaction();
        Execute("DELETE FROM sync_messages WHERE pair_id = $p;", tx, ("$p", pairId));
        Execute("DELETE FROM sync_pairs WHERE id = $p;", tx, ("$p", pairId));
        tx.Commit();
        return true;
    });

    /// <summary>A pair's rows, or only those in <paramref name="state"/>.</summary>
    public List<SyncRow> LoadSyncRows(long pairId, SyncState? state = null) => Guarded(() =>
    {
        var result = new List<SyncRow>();
        using var cmd = Command("""
            SELECT id, uid_a, uid_b, state, toward, message_id, internal_date, size_a, size_b, flags_a, flags_b, uidnext_before, attempts, last_error
            FROM sync_messages WHERE pair_id = $p AND ($s IS NULL OR state = $s) ORDER BY id;
            """, null, ("$p", pairId), ("$s", state?.ToString().ToLowerInvariant()));
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result.Add(new SyncRow(
                r.GetInt64(0),
                r.IsDBNull(1) ? null : (uint)r.GetInt64(1),
                r.IsDBNull(2) ? null : (uint)r.GetInt64(2),
                Enum.Parse<SyncState>(r.GetString(3), ignoreCase: true),
                r.IsDBNull(4) ? null : Enum.Parse<Side>(r.GetString(4)),
                r.IsDBNull(5) ? null : r.GetString(5),
                r.GetInt64(6), r.GetInt64(7), r.GetInt64(8), r.GetString(9), r.GetString(10),
                (uint)r.GetInt64(11), r.GetInt32(12), r.IsDBNull(13) ? null : r.GetString(13)));
        }

        return result;
    });

    /// <summary>
    /// Counts a pair's rows that an interrupted run left in flight (pending, moving, expunging),
    /// without loading the rows: a folder with any is never skipped as unchanged.
    /// </summary>
    public int CountSyncRowsInFlight(long pairId) => Guarded(() =>
        Convert.ToInt32(Scalar("SELECT COUNT(*) FROM sync_messages WHERE pair_id = $p AND state IN ('pending', 'moving', 'expunging');", ("$p", pairId)), CultureInfo.InvariantCulture));

    /// <summary>
    /// Writes rows of one or more pairs in one transaction (one fsync): rows with Id 0 are inserted
    /// and come back with their new Id, the others are updated; <paramref name="delete"/> rows are removed.
    /// </summary>
    public List<SyncRow> SaveSyncRows(IEnumerable<(long PairId, SyncRow Row)> rows, IEnumerable<long>? delete = null) => Guarded(() =>
    {
        var saved = new List<SyncRow>();
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        using var tx = _connection.BeginTransaction();
        foreach (var id in delete ?? [])
            Execute("DELETE FROM sync_messages WHERE id = $id;", tx, ("$id", id));
        foreach (var (pairId, row) in rows)
        {
            var values = new (string, object?)[]
            {
                ("$p", pairId), ("$ua", row.UidA is { } a ? (long)a : null), ("$ub", row.UidB is { } b ? (long)b : null),
                ("$st", row.State.ToString().ToLowerInvariant()), ("$to", row.Toward?.ToString()), ("$mid", row.MessageId),
                ("$d", row.InternalDateUnix), ("$sa", row.SizeA), ("$sb", row.SizeB), ("$fa", row.FlagsA), ("$fb", row.FlagsB),
                ("$before", (long)row.UidNextBefore), ("$at", row.Attempts), ("$err", row.LastError), ("$now", now), ("$id", row.Id),
            };
            if (row.Id == 0)
            {
                using var insert = Command("""
                    INSERT INTO sync_messages (pair_id, uid_a, uid_b, state, toward, message_id, internal_date, size_a, size_b, flags_a, flags_b,
                        uidnext_before, attempts, last_error, updated_utc)
                    VALUES ($p, $ua, $ub, $st, $to, $mid, $d, $sa, $sb, $fa, $fb, $before, $at, $err, $now) RETURNING id;
                    """, tx, values.Where(v => v.Item1 != "$id").ToArray());
                saved.Add(row with { Id = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture) });
            }
            else
            {
                Execute("""
                    UPDATE sync_messages SET pair_id = $p, uid_a = $ua, uid_b = $ub, state = $st, toward = $to, message_id = $mid, internal_date = $d,
                        size_a = $sa, size_b = $sb, flags_a = $fa, flags_b = $fb, uidnext_before = $before, attempts = $at, last_error = $err, updated_utc = $now
                    WHERE id = $id;
                    """, tx, values);
                saved.Add(row);
            }
        }

        tx.Commit();
        return saved;
    });

    private T Guarded<T>(Func<T> action)
    {
        lock (_gate)
        {
            try
            {
                return action();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteIoError or SqliteCorrupt or SqliteNotADatabase)
            {
                throw Damaged(ex);
            }
        }
    }

    private object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, null, parameters);
        return cmd.ExecuteScalar();
    }
}
