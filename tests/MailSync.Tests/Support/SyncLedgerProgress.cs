using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Support;

/// <summary>
/// Watches a running two-way sync's ledger (<c>sync_messages</c>) from outside, to kill the CLI at
/// chosen points: the paired rows, and the rows an interrupted run would leave in flight.
/// The two-way counterpart of <see cref="LedgerProgress"/>, which reads migrate's table.
/// </summary>
public static class SyncLedgerProgress
{
    /// <summary>Rows by state. <see cref="InFlight"/>: intents committed whose outcome is not (pending, moving, expunging).</summary>
    public sealed record Counts(long Paired, long Pending, long Moving, long Expunging, long Failed)
    {
        public long InFlight => Pending + Moving + Expunging;

        public override string ToString() => $"{Paired} paired, {Pending} pending, {Moving} moving, {Expunging} expunging, {Failed} failed";
    }

    /// <summary>A row in flight: its state, the side the write goes to, that side's folder and the row's UID there (null for a pending APPEND).</summary>
    public sealed record InFlightRow(string State, string Toward, string Folder, uint? Uid);

    /// <summary>The counts; throws when the ledger cannot be read.</summary>
    public static Counts Read(string ledger)
    {
        using var connection = Open(ledger);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            SELECT coalesce(sum(state = 'paired'), 0), coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'moving'), 0),
                   coalesce(sum(state = 'expunging'), 0), coalesce(sum(state = 'failed'), 0)
            FROM sync_messages;
            """;
        using var r = cmd.ExecuteReader();
        r.Read();
        return new Counts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4));
    }

    /// <summary>The counts, or null when the ledger is busy or not there just now: "not known", never "nothing".</summary>
    public static Counts? TryRead(string ledger)
    {
        if (!File.Exists(ledger))
            return null;
        try
        {
            return Read(ledger);
        }
        catch (SqliteException)
        {
            return null;
        }
    }

    /// <summary>The rows in flight now, with the folder and UID on the side each write goes to; read again while the ledger is busy (up to a second).</summary>
    public static async Task<List<InFlightRow>> InFlightAsync(string ledger)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return InFlight(ledger);
            }
            catch (SqliteException) when (attempt < 100)
            {
                await Task.Delay(10);
            }
        }
    }

    /// <summary>The rows in flight now, with the folder and UID on the side each write goes to.</summary>
    public static List<InFlightRow> InFlight(string ledger)
    {
        using var connection = Open(ledger);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            SELECT m.state, m.toward, CASE m.toward WHEN 'A' THEN p.name_a ELSE p.name_b END, CASE m.toward WHEN 'A' THEN m.uid_a ELSE m.uid_b END
            FROM sync_messages m JOIN sync_pairs p ON p.id = m.pair_id
            WHERE m.state IN ('pending', 'moving', 'expunging') ORDER BY m.id;
            """;
        using var r = cmd.ExecuteReader();
        var rows = new List<InFlightRow>();
        while (r.Read())
            rows.Add(new InFlightRow(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : (uint)r.GetInt64(3)));
        return rows;
    }

    /// <summary>
    /// Polls the ledger until <paramref name="until"/> holds while the run is still going and returns
    /// the counts that met it, or null when the run ended first (a fast run can finish between two
    /// looks): for kill loops, which stop killing then. Throws after <paramref name="timeout"/> (default 60 s).
    /// </summary>
    public static async Task<Counts?> TryWaitAsync(string ledger, Func<Counts, bool> until, Process process, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)))
        {
            if (process.HasExited)
                return null;
            if (TryRead(ledger) is { } counts && until(counts))
                return counts;
            await Task.Delay(1);
        }

        throw new TimeoutException($"the ledger did not reach the awaited point within {clock.Elapsed.TotalSeconds:0} s (last: {TryRead(ledger)})");
    }

    private static SqliteConnection Open(string ledger)
    {
        var connection = new SqliteConnection($"Data Source={ledger};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }
}
