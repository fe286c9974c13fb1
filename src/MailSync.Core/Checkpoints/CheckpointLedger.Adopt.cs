using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MailSync.Core.Checkpoints;

/// <summary>Schema v4: migrate's rows carried into the side-indexed tables, which migrate now runs on too.</summary>
public sealed partial class CheckpointLedger
{
    /// <summary>
    /// Schema v4. Migrate runs on the side-indexed engine (<c>SyncPolicy.Migrate</c>), and a
    /// migrate job may merge several source folders into one target folder, so <c>sync_pairs</c>
    /// loses its <c>UNIQUE (job, name_b)</c> (two-way sync keeps its folders one to one itself, in
    /// <c>SyncFolders</c>) and gains <c>mode</c>, the policy that wrote the pair (<c>sync</c> for
    /// every v3 pair, which only two-way sync wrote); SQLite cannot drop a constraint, so the table is rebuilt as SQLite's
    /// documentation describes (new table, copy, drop, rename; foreign keys are not enforced on
    /// this connection). Then every job's IMAP migrate rows are moved across
    /// (<see cref="AdoptMigrateRows"/>), in the same transaction as the version bump: the format
    /// changes, what the ledger knows does not, and nothing is recreated.
    /// </summary>
    private void AddVersion4(SqliteTransaction tx)
    {
        Execute("""
            CREATE TABLE sync_pairs_v4 (
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
                mode TEXT NOT NULL DEFAULT 'sync',
                UNIQUE (job, name_a));
            INSERT INTO sync_pairs_v4 SELECT id, job, name_a, name_b, uidvalidity_a, uidvalidity_b, uidnext_a, uidnext_b,
                highestmodseq_a, highestmodseq_b, count_a, count_b, renaming_from_a, renaming_from_b, subscribed_a, subscribed_b, completed_utc, 'sync'
                FROM sync_pairs;
            DROP TABLE sync_pairs;
            ALTER TABLE sync_pairs_v4 RENAME TO sync_pairs;
            CREATE INDEX sync_pairs_name_b ON sync_pairs (job, name_b);
            """, tx);
        var jobs = new List<string>();
        using (var cmd = Command("SELECT DISTINCT job FROM folder_pairs ORDER BY job;", tx))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
                jobs.Add(r.GetString(0));
        }

        foreach (var job in jobs)
            AdoptMigrateRows(job, tx);
    }

    /// <summary>
    /// Moves a migrate job's IMAP folder pairs and message rows (<c>folder_pairs</c>, <c>messages</c>)
    /// into <c>sync_pairs</c>/<c>sync_messages</c>, so the job goes on where it stopped on the
    /// side-indexed engine: <c>source_*</c> becomes side A, <c>target_*</c> side B; copied is paired,
    /// pending is pending toward B (its recorded UIDNEXT kept, so the next run settles it by
    /// looking), failed is failed toward B; a message the source deleted keeps only its target UID
    /// (let go). Only the UIDVALIDITYs of a pair are carried: its first run on the new engine lists
    /// both folders in full (no "unchanged" skip, no CHANGEDSINCE) and finds a renumbered folder's
    /// rows again by content. Several pairs filling one target folder stay several pairs. POP3 pairs
    /// (rows with a <c>source_key</c>) stay where they are, for the POP3 engine; so does a pair whose
    /// source folder the job already has a side-indexed pair for (a job switched between modes),
    /// which <see cref="MigrateRowsLeft"/> then names. Rows are moved, not copied, so one table
    /// alone says where a message stands.
    /// </summary>
    private void AdoptMigrateRows(string job, SqliteTransaction tx)
    {
        var pairs = new List<(long Id, string Source, string Target, long ValidityA, long ValidityB)>();
        using (var cmd = Command("SELECT id, source_folder, target_folder, source_uidvalidity, target_uidvalidity FROM folder_pairs WHERE job = $job ORDER BY id;", tx, ("$job", job)))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
                pairs.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4)));
        }

        foreach (var pair in pairs)
        {
            var (nameA, nameB) = (Canonical(pair.Source), Canonical(pair.Target));
            using (var pop3 = Command("SELECT EXISTS (SELECT 1 FROM messages WHERE pair_id = $p AND source_key IS NOT NULL);", tx, ("$p", pair.Id)))
            {
                if (Convert.ToInt64(pop3.ExecuteScalar(), CultureInfo.InvariantCulture) != 0)
                    continue;
            }

            using (var taken = Command("SELECT EXISTS (SELECT 1 FROM sync_pairs WHERE job = $job AND name_a = $a);", tx, ("$job", job), ("$a", nameA)))
            {
                if (Convert.ToInt64(taken.ExecuteScalar(), CultureInfo.InvariantCulture) != 0)
                    continue;
            }

            long newId;
            using (var insert = Command("""
                INSERT INTO sync_pairs (job, name_a, name_b, uidvalidity_a, uidvalidity_b, mode) VALUES ($job, $a, $b, $va, $vb, 'migrate') RETURNING id;
                """, tx, ("$job", job), ("$a", nameA), ("$b", nameB), ("$va", pair.ValidityA), ("$vb", pair.ValidityB)))
                newId = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);

            Execute("""
                INSERT INTO sync_messages (pair_id, uid_a, uid_b, state, toward, message_id, internal_date, size_a, size_b, flags_a, flags_b,
                    uidnext_before, attempts, last_error, updated_utc)
                SELECT $new,
                    CASE WHEN source_deleted_utc IS NULL THEN source_uid END,
                    CASE WHEN state = 'copied' THEN target_uid END,
                    CASE state WHEN 'copied' THEN 'paired' ELSE state END,
                    CASE WHEN state = 'copied' THEN NULL ELSE 'B' END,
                    message_id, internal_date, source_size, target_size, source_flags, target_flags,
                    target_uidnext_before, attempts, last_error, updated_utc
                FROM messages
                WHERE pair_id = $old AND (source_deleted_utc IS NULL OR (state = 'copied' AND target_uid IS NOT NULL))
                ORDER BY source_uid;
                """, tx, ("$new", newId), ("$old", pair.Id));
            Execute("DELETE FROM messages WHERE pair_id = $old;", tx, ("$old", pair.Id));
            Execute("DELETE FROM folder_pairs WHERE id = $old;", tx, ("$old", pair.Id));
        }
    }

    private static string Canonical(string name) => string.Equals(name, "INBOX", StringComparison.OrdinalIgnoreCase) ? "INBOX" : name;

    /// <summary>
    /// A job's IMAP folder pairs still in the migrate layout: only a job that was switched between
    /// modes has any (its side-indexed pair for the same source folder came first). The engine
    /// names them; their folders are paired again by content, nothing is copied twice.
    /// </summary>
    public List<string> MigrateRowsLeft(string job) => Guarded(() =>
    {
        var result = new List<string>();
        using var cmd = Command("""
            SELECT p.source_folder, p.target_folder FROM folder_pairs p
            WHERE p.job = $job AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.pair_id = p.id AND m.source_key IS NOT NULL)
              AND EXISTS (SELECT 1 FROM messages m WHERE m.pair_id = p.id) ORDER BY p.id;
            """, null, ("$job", job));
        using var r = cmd.ExecuteReader();
        while (r.Read())
            result.Add($"{r.GetString(0)} -> {r.GetString(1)}");
        return result;
    });

    /// <summary>
    /// The UIDs on side B of folder <paramref name="nameB"/> (at <paramref name="uidValidity"/>)
    /// that <paramref name="otherJobs"/> writing into the same account recorded, in either ledger
    /// layout, and that <paramref name="ownJob"/>'s other side-indexed pairs filling the same folder
    /// recorded (all but <paramref name="exceptPair"/>; several source folders merged into one): a
    /// one-way pair never takes them for its own (pairing by content, settling an APPEND in doubt).
    /// A pair whose first run was interrupted has no UIDVALIDITY recorded yet (0) and counts too.
    /// The own job's rows left in migrate's layout (a job switched between modes) are not claims:
    /// those copies are the job's, found again by content.
    /// </summary>
    public HashSet<uint> ClaimedByJobs(IReadOnlyCollection<string> otherJobs, string ownJob, string nameB, uint uidValidity, long exceptPair = 0)
    {
        var result = otherJobs.Count == 0 ? [] : ClaimedTargetUids(otherJobs, nameB, uidValidity);
        return Guarded(() =>
        {
            using var cmd = Command("""
                SELECT m.uid_b FROM sync_messages m JOIN sync_pairs p ON p.id = m.pair_id
                WHERE p.job = $job AND p.name_b = $t AND p.uidvalidity_b IN ($v, 0) AND p.id <> $except AND m.uid_b IS NOT NULL;
                """, null, ("$job", null), ("$t", nameB), ("$v", (long)uidValidity), ("$except", exceptPair));
            foreach (var job in otherJobs.Append(ownJob).Distinct(StringComparer.Ordinal))
            {
                cmd.Parameters["$job"].Value = job;
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    result.Add((uint)r.GetInt64(0));
            }

            return result;
        });
    }

    /// <summary>A pair's failed rows, counted without loading them: a <c>--retry-failed</c> pass opens no folder without one.</summary>
    public int CountSyncRowsFailed(long pairId) => Guarded(() =>
        Convert.ToInt32(Scalar("SELECT COUNT(*) FROM sync_messages WHERE pair_id = $p AND state = 'failed';", ("$p", pairId)), CultureInfo.InvariantCulture));

    /// <summary>A pair's rows paired on both sides, counted without loading them.</summary>
    public int CountSyncRowsPaired(long pairId) => Guarded(() =>
        Convert.ToInt32(Scalar("SELECT COUNT(*) FROM sync_messages WHERE pair_id = $p AND state = 'paired' AND uid_a IS NOT NULL AND uid_b IS NOT NULL;", ("$p", pairId)), CultureInfo.InvariantCulture));
}
