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
    /// intent is pending); returns whether one was pending at that moment.
    /// </summary>
    public static async Task<bool> WaitAsync(string ledger, int copied, bool requirePending, Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var exited = process.HasExited;
            var (done, pending) = Count(ledger);
            if (done >= copied && (!requirePending || pending > 0))
                return pending > 0;
            Assert.False(exited, $"the run finished (exit {(exited ? process.ExitCode : 0)}) before reaching {copied} copied");
            await Task.Delay(requirePending ? 1 : 10);
        }

        throw new TimeoutException($"no progress to {copied} copied within 60 s");
    }

    public static (long Copied, long Pending) Count(string ledger)
    {
        if (!File.Exists(ledger))
            return (0, 0);
        try
        {
            using var connection = new SqliteConnection($"Data Source={ledger};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "SELECT coalesce(sum(state = 'copied'), 0), coalesce(sum(state = 'pending'), 0) FROM messages;";
            using var r = cmd.ExecuteReader();
            r.Read();
            return (r.GetInt64(0), r.GetInt64(1));
        }
        catch (SqliteException)
        {
            // The schema may not exist yet in the first instants of the first run.
            return (0, 0);
        }
    }
}
