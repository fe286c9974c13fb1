using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Support;

/// <summary>Watches a running CLI's checkpoint ledger from outside, to kill it at chosen points.</summary>
public static class LedgerProgress
{
    /// <summary>Starts <c>mailsync run</c> on the job with both output streams drained, so the child never blocks on a full pipe.</summary>
    public static Process StartRun(JobFile job)
    {
        var process = CliProcess.Start("run", job.Path, "--state", job.StatePath);
        _ = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }

    /// <summary>
    /// Waits until at least <paramref name="copied"/> rows are copied (and, when asked, an APPEND
    /// intent is pending); returns whether one was pending at that moment. Fails the test when the
    /// run ends first.
    /// </summary>
    public static async Task<bool> WaitAsync(string ledger, int copied, bool requirePending, Process process)
        => await TryWaitAsync(ledger, copied, requirePending, process)
            ?? throw new Xunit.Sdk.XunitException($"the run finished (exit {process.ExitCode}) before reaching {copied} copied{(requirePending ? " with an APPEND in flight" : "")} (the ledger holds {(await CountAfterExitAsync(ledger)).Copied})");

    /// <summary>
    /// As <see cref="WaitAsync"/>, but null when the run ended before the point was seen (a fast
    /// run can finish between two looks at the ledger): for kill loops that stop killing then.
    /// </summary>
    public static async Task<bool?> TryWaitAsync(string ledger, int copied, bool requirePending, Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var exited = process.HasExited;
            // A read can meet the ledger busy (the run checkpoints its WAL as it ends): that is
            // "not known now", never "nothing copied", so it is read again.
            if (TryCount(ledger) is var (done, pending) && done >= copied && (!requirePending || pending > 0))
                return pending > 0;
            if (exited)
            {
                var final = await CountAfterExitAsync(ledger);
                return final.Copied >= copied && !requirePending ? false : null;
            }

            await Task.Delay(requirePending ? 1 : 10);
        }

        throw new TimeoutException($"no progress to {copied} copied within 60 s");
    }

    /// <summary>The counts once the run has ended, read again while the ledger is busy (up to a second).</summary>
    private static async Task<(long Copied, long Pending)> CountAfterExitAsync(string ledger)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (TryCount(ledger) is { } counts)
                return counts;
            await Task.Delay(10);
        }

        return Count(ledger);
    }

    /// <summary>The counts, or null when the ledger could not be read just now.</summary>
    private static (long Copied, long Pending)? TryCount(string ledger)
    {
        if (!File.Exists(ledger))
            return (0, 0);
        try
        {
            return Read(ledger);
        }
        catch (SqliteException)
        {
            return null;
        }
    }

    public static (long Copied, long Pending) Count(string ledger)
    {
        if (!File.Exists(ledger))
            return (0, 0);
        try
        {
            return Read(ledger);
        }
        catch (SqliteException)
        {
            // The schema may not exist yet in the first instants of the first run.
            return (0, 0);
        }
    }

    private static (long Copied, long Pending) Read(string ledger)
    {
        using var connection = new SqliteConnection($"Data Source={ledger};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        // Both layouts: a migrate job on the two-way engine keeps its rows in sync_messages (copied = paired).
        cmd.CommandText = """
            SELECT coalesce(sum(state IN ('copied', 'paired')), 0), coalesce(sum(state = 'pending'), 0)
            FROM (SELECT state FROM messages UNION ALL SELECT state FROM sync_messages);
            """;
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1));
    }
}
