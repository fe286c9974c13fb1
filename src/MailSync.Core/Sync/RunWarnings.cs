using MailSync.Core.Jobs;
using MailSync.Core.Stores;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>Warnings of a job's run: logged, and kept in its result (under its lock: workers share it) for the summary and report.</summary>
internal static class RunWarnings
{
    public static void Warn(this JobResult result, ILogger log, string job, string warning)
    {
        log.Warning("{Job}: {Warning}", job, warning);
        lock (result)
            result.Warnings.Add(warning);
    }

    /// <summary>A folder pair that cannot be read or written ([NOPERM], gone, UIDVALIDITY changed under us): reported, the others go on.</summary>
    public static void SkipFolder(this JobResult result, ILogger log, string job, FolderResult folder, string arrow, StoreFailureException failure)
    {
        folder.ProtocolViolation |= failure.Classification.ProtocolViolation;
        result.SkipFolder(log, job, folder, arrow, failure.Message);
    }

    public static void SkipFolder(this JobResult result, ILogger log, string job, FolderResult folder, string arrow, string reason)
    {
        folder.Error = reason;
        result.Warn(log, job, $"{folder.SourceFolder} {arrow} {folder.TargetFolder}: folder skipped: {reason}");
    }
}
