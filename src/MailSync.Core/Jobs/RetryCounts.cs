namespace MailSync.Core.Jobs;

/// <summary>
/// The outcome of a <c>--retry-failed</c> run for one job: how many earlier failures were tried
/// again, how many of those are now on the target, how many failed again (listed with their new
/// reason among the job's failures), and how many could not be tried because the source no
/// longer has them.
/// </summary>
public sealed record RetryCounts(int Retried, int NowCopied, int StillFailing, int NoLongerOnSource)
{
    /// <summary>
    /// In a retry run every copy and every failure of a folder belongs to a retried message (or
    /// to one gone from the source), so the counts follow from the folder results.
    /// </summary>
    public static RetryCounts From(IEnumerable<FolderResult> folders)
    {
        int retried = 0, copied = 0, failed = 0, gone = 0;
        foreach (var f in folders)
        {
            retried += f.Retried;
            copied += f.Copied;
            failed += f.Failed - f.NoLongerOnSource;
            gone += f.NoLongerOnSource;
        }

        return new RetryCounts(retried, copied, failed, gone);
    }
}
