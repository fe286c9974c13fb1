using System.Globalization;

namespace MailSync.Core.Checkpoints;

/// <summary>What <see cref="CheckpointLedger.AdoptMigrateRows"/> moved, and the folder pairs it had to leave where they were.</summary>
public sealed record AdoptedMigrateRows(int Pairs, int Rows, IReadOnlyList<string> Left);

/// <summary>Migrate on the two-way engine (prototype): migrate's v2 rows carried forward into the side-indexed tables.</summary>
public sealed partial class CheckpointLedger
{
    /// <summary>
    /// Moves a migrate job's IMAP folder pairs and message rows (<c>folder_pairs</c>, <c>messages</c>)
    /// into <c>sync_pairs</c>/<c>sync_messages</c>, in one transaction, so the job goes on where it
    /// stopped on the side-indexed engine: <c>source_*</c> becomes side A, <c>target_*</c> side B;
    /// copied is paired, pending is pending toward B (its recorded UIDNEXT kept, so the next run
    /// settles it by looking), failed is failed toward B; a message the source deleted keeps only
    /// its target UID (let go). Only the UIDVALIDITYs of a pair are carried: its first run on the
    /// new engine lists both folders in full (no "unchanged" skip, no CHANGEDSINCE) and finds a
    /// renumbered folder's rows again by content. POP3 pairs (rows with a <c>source_key</c>) stay
    /// where they are; so does a pair whose source or target folder the job already has a
    /// side-indexed pair for, or that shares its target folder with another of the job's pairs
    /// (migrate maps many folders onto one, the side-indexed pairs are one to one): those are
    /// returned in <see cref="AdoptedMigrateRows.Left"/>. Nothing is ever recreated; rows are moved,
    /// not copied, so one table alone says where a message stands.
    /// </summary>
    public AdoptedMigrateRows AdoptMigrateRows(string job) => Guarded(() =>
    {
        var pairs = new List<(long Id, string Source, string Target, long ValidityA, long ValidityB)>();
        using (var cmd = Command("SELECT id, source_folder, target_folder, source_uidvalidity, target_uidvalidity FROM folder_pairs WHERE job = $job ORDER BY id;", null, ("$job", job)))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
                pairs.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4)));
        }

        if (pairs.Count == 0)
            return new AdoptedMigrateRows(0, 0, []);

        static string Canonical(string name) => string.Equals(name, "INBOX", StringComparison.OrdinalIgnoreCase) ? "INBOX" : name;
        var sharedTargets = pairs.GroupBy(p => Canonical(p.Target), StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        var left = new List<string>();
        var adoptedPairs = 0;
        var adoptedRows = 0;
        using var tx = _connection.BeginTransaction();
        foreach (var pair in pairs)
        {
            var (nameA, nameB) = (Canonical(pair.Source), Canonical(pair.Target));
            using (var pop3 = Command("SELECT EXISTS (SELECT 1 FROM messages WHERE pair_id = $p AND source_key IS NOT NULL);", tx, ("$p", pair.Id)))
            {
                if (Convert.ToInt64(pop3.ExecuteScalar(), CultureInfo.InvariantCulture) != 0)
                    continue;
            }

            using (var taken = Command("SELECT EXISTS (SELECT 1 FROM sync_pairs WHERE job = $job AND (name_a = $a OR name_b = $b));", tx, ("$job", job), ("$a", nameA), ("$b", nameB)))
            {
                if (sharedTargets.Contains(nameB) || Convert.ToInt64(taken.ExecuteScalar(), CultureInfo.InvariantCulture) != 0)
                {
                    left.Add($"{pair.Source} -> {pair.Target}");
                    continue;
                }
            }

            long newId;
            using (var insert = Command("""
                INSERT INTO sync_pairs (job, name_a, name_b, uidvalidity_a, uidvalidity_b) VALUES ($job, $a, $b, $va, $vb) RETURNING id;
                """, tx, ("$job", job), ("$a", nameA), ("$b", nameB), ("$va", pair.ValidityA), ("$vb", pair.ValidityB)))
                newId = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);

            using (var rows = Command("""
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
                """, tx, ("$new", newId), ("$old", pair.Id)))
                adoptedRows += rows.ExecuteNonQuery();
            Execute("DELETE FROM messages WHERE pair_id = $old;", tx, ("$old", pair.Id));
            Execute("DELETE FROM folder_pairs WHERE id = $old;", tx, ("$old", pair.Id));
            adoptedPairs++;
        }

        tx.Commit();
        return new AdoptedMigrateRows(adoptedPairs, adoptedRows, left);
    });

    /// <summary>
    /// The UIDs on side B of folder <paramref name="nameB"/> (at <paramref name="uidValidity"/>)
    /// that other jobs writing into the same account recorded, in either ledger layout: a one-way
    /// job never takes them for its own (pairing by content, settling an APPEND in doubt).
    /// </summary>
    public HashSet<uint> ClaimedByJobs(IReadOnlyCollection<string> jobs, string nameB, uint uidValidity)
    {
        var result = jobs.Count == 0 ? [] : ClaimedTargetUids(jobs, nameB, uidValidity);
        if (jobs.Count == 0)
            return result;
        return Guarded(() =>
        {
            using var cmd = Command("""
                SELECT m.uid_b FROM sync_messages m JOIN sync_pairs p ON p.id = m.pair_id
                WHERE p.job = $job AND p.name_b = $t AND p.uidvalidity_b = $v AND m.uid_b IS NOT NULL;
                """, null, ("$job", null), ("$t", nameB), ("$v", (long)uidValidity));
            foreach (var job in jobs)
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
