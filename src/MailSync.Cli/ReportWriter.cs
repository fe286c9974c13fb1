using System.Text.Json;
using MailSync.Core.Jobs;

namespace MailSync.Cli;

/// <summary>The <c>--report</c> JSON: stable camelCase names, meant to be read by scripts.</summary>
internal static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task WriteAsync(string path, string jobFile, int exitCode, IReadOnlyList<JobResult> results, CancellationToken cancellationToken)
    {
        var report = new
        {
            generatedUtc = DateTimeOffset.UtcNow,
            jobFile,
            exitCode,
            // VmHWM on Linux: the most memory the process held at once, for memory bounds and benchmarks.
            peakWorkingSetBytes = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64,
            jobs = results.Select(r => new
            {
                job = r.Job,
                status = r.Status.ToString(),
                r.Error,
                r.DryRun,
                durationSeconds = Math.Round(r.Duration.TotalSeconds, 3),
                r.Appended,
                // A --retry-failed run: what became of the earlier failures (null for a normal run).
                r.RetryFailed,
                retry = r.Retry,
                // A retry run lists only the pairs it had failures to retry in; the others were not opened.
                folders = r.Folders.Where(f => !f.NothingToRetry).Select(f => new
                {
                    f.SourceFolder,
                    f.TargetFolder,
                    f.SourceMessages,
                    f.Copied,
                    f.AlreadyCopied,
                    f.Reconciled,
                    f.FoundOnTarget,
                    f.Failed,
                    f.CopiedBytes,
                    f.Unchanged,
                    // Why the folder was skipped (folder-class failure), null when it was not.
                    error = f.Error,
                    retried = r.RetryFailed ? f.Retried : (int?)null,
                    noLongerOnSource = r.RetryFailed ? f.NoLongerOnSource : (int?)null,
                    droppedKeywords = f.DroppedKeywords,
                    sourceIdentity = f.SourceIdentity,
                    dateSources = f.SourceIdentity is null ? null : f.DateSources,
                    datedWithoutReceived = f.SourceIdentity is null ? null : f.DatedWithoutReceived,
                    deletedFromSource = f.SourceIdentity is null ? (int?)null : f.DeletedFromSource,
                    // Sync jobs: what was written to each side (A is the job's source account, B its target); null for migrate.
                    sync = f.Sync,
                }),
                notCopied = r.Failures,
                r.Warnings,
                // Failures this run waited out and recovered from (dropped connections, throttling).
                r.Recoveries,
            }),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, report, Json, cancellationToken).ConfigureAwait(false);
    }
}
