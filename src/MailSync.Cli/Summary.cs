using MailSync.Core.Jobs;
using MailSync.Core.Stores;
using Spectre.Console;

namespace MailSync.Cli;

/// <summary>The table printed at the end of a run.</summary>
internal static class Summary
{
    public static void Write(IAnsiConsole console, IReadOnlyList<JobResult> results)
    {
        // One run has one mode: --retry-failed applies to every job it runs.
        var table = results.Any(r => r.RetryFailed) ? RetryTable(results) : Table(results.Where(r => !IsSync(r)).ToList());
        // A job that stopped before its first folder (bad host, refused certificate) has no rows:
        // an empty table would only push its error line out of sight.
        if (table.Rows.Count > 0)
            console.Write(table);
        var sync = SyncTable(results.Where(IsSync).ToList());
        if (sync.Rows.Count > 0)
            console.Write(sync);
        foreach (var job in results)
        {
            var color = job.Status switch { JobStatus.Succeeded => "green", JobStatus.CompletedWithFailures or JobStatus.DeletionsHeld => "yellow", _ => "red" };
            var dry = job.DryRun ? " (dry run: nothing was changed)" : string.Empty;
            var syncTotals = IsSync(job) ? job.Folders.Select(f => f.Sync!).ToList() : null;
            var counts = syncTotals is not null
                ? $"A→B {syncTotals.Sum(c => c.AppendedToB)} appended, {syncTotals.Sum(c => c.FlagsChangedOnB)} flags, {syncTotals.Sum(c => c.MovedOnB)} moved, {syncTotals.Sum(c => c.DeletedOnB)} deleted; "
                    + $"B→A {syncTotals.Sum(c => c.AppendedToA)} appended, {syncTotals.Sum(c => c.FlagsChangedOnA)} flags, {syncTotals.Sum(c => c.MovedOnA)} moved, {syncTotals.Sum(c => c.DeletedOnA)} deleted; "
                    + $"{syncTotals.Sum(c => c.Conflicts)} conflicts, {job.Failures.Count} not copied"
                : job.Retry is { } retry
                ? $"retry of earlier failures: {retry.Retried} retried, {retry.NowCopied} now copied, {retry.StillFailing} still failing"
                    + (retry.NoLongerOnSource > 0 ? $", {retry.NoLongerOnSource} no longer on the source" : string.Empty)
                : $"{job.Appended} appended, {job.Failures.Count} not copied";
            console.MarkupLine($"[{color}]{Text(job.Job)}: {job.Status}[/] — {Text(counts)}, {job.Duration.TotalSeconds:F1} s{Text(dry)}");
            if (job.Error is not null)
                console.MarkupLine($"  [red]{Text(job.Error)}[/]");
            foreach (var failure in job.Failures.Take(20))
            {
                var which = failure.SourceKey is { } key ? $"POP3 message {key}" : $"{failure.SourceFolder} UID {failure.SourceUid}";
                console.MarkupLine($"  not copied: {Text(which)} <{Text(failure.MessageId ?? "no Message-ID")}>: {Text(failure.Reason)}");
            }

            if (job.Failures.Count > 20)
                console.MarkupLine($"  … and {job.Failures.Count - 20} more (see --report)");
            foreach (var f in job.Folders.Where(f => f.SourceIdentity is not null))
            {
                var dates = string.Join(", ", f.DateSources.OrderBy(d => DateRuleOrder(d.Key)).Select(d => $"{d.Value} from {DateRule(d.Key)}"));
                console.MarkupLine($"  POP3 messages known by {Text(f.SourceIdentity!)}; dates: {Text(dates.Length == 0 ? "nothing copied" : dates)}; deleted from the server: {f.DeletedFromSource}");
            }

            foreach (var f in job.Folders.Where(f => f.Sync?.HeldReason is not null))
                console.MarkupLine($"  [yellow]deletions held: {Text(f.SourceFolder)} <-> {Text(f.TargetFolder)}:[/] {Text(f.Sync!.HeldReason!)}");
            foreach (var f in job.Folders.Where(f => f.Error is not null))
                console.MarkupLine($"  [yellow]folder skipped: {Text(f.SourceFolder)} -> {Text(f.TargetFolder)}:[/] {Text(f.Error!)}");
            if (job.Recoveries.Count > 0)
                console.MarkupLine($"  recovered from {job.Recoveries.Count} connection or server failure(s) by waiting and retrying (see the log or --report)");
            foreach (var f in job.Folders.Where(f => f.DroppedKeywords.Count > 0))
                console.MarkupLine($"  [yellow]keywords refused by {Text(f.TargetFolder)}:[/] {Text(string.Join(", ", f.DroppedKeywords.Select(k => $"{k.Key} ({k.Value})")))}");
        }
    }

    private static Table Table(IReadOnlyList<JobResult> results)
    {
        var table = new Table().Title("mailsync summary").AddColumns("Job", "Source folder", "Target folder", "In source", "Copied", "Already there", "Failed", "MB copied");
        foreach (var job in results)
        {
            foreach (var f in job.Folders)
            {
                table.AddRow(
                    Text(job.Job), Text(f.SourceFolder), Text(f.TargetFolder),
                    f.SourceMessages.ToString(), f.Copied.ToString(), (f.AlreadyCopied + f.Reconciled + f.FoundOnTarget).ToString(),
                    f.Failed > 0 ? $"[red]{f.Failed}[/]" : "0", (f.CopiedBytes / 1e6).ToString("F1"));
            }
        }

        return table;
    }

    private static bool IsSync(JobResult job) => job.Folders.Count > 0 && job.Folders.All(f => f.Sync is not null);

    /// <summary>Sync jobs: per folder pair and direction, only the pairs where something happened (or was held).</summary>
    private static Table SyncTable(IReadOnlyList<JobResult> results)
    {
        var table = new Table().Title("mailsync sync summary (A = the job's source account, B = its target)")
            .AddColumns("Job", "Folder A", "Folder B", "Msgs A/B", "Appended A→B", "Appended B→A", "Flags on A/B", "Moved on A/B", "Deleted on A/B", "Held A/B", "Conflicts", "Folder");
        foreach (var job in results)
        {
            foreach (var f in job.Folders.Where(f => f.Sync is { } c && (c.Writes > 0 || c.HeldReason is not null || c.Conflicts > 0 || c.FolderChange is not null || f.Failed > 0 || f.Error is not null)))
            {
                var c = f.Sync!;
                table.AddRow(
                    Text(job.Job), Text(f.SourceFolder), Text(f.TargetFolder), $"{c.MessagesA}/{c.MessagesB}",
                    c.AppendedToB.ToString(), c.AppendedToA.ToString(), $"{c.FlagsChangedOnA}/{c.FlagsChangedOnB}", $"{c.MovedOnA}/{c.MovedOnB}",
                    $"{c.DeletedOnA}/{c.DeletedOnB}", c.HeldOnA + c.HeldOnB > 0 ? $"[yellow]{c.HeldOnA}/{c.HeldOnB}[/]" : "0/0",
                    c.Conflicts > 0 ? $"[yellow]{c.Conflicts}[/]" : "0", Text(c.FolderChange ?? string.Empty));
            }
        }

        return table;
    }

    /// <summary>Only the folder pairs that had earlier failures: the others were not even opened.</summary>
    private static Table RetryTable(IReadOnlyList<JobResult> results)
    {
        var table = new Table().Title("mailsync summary: retry of failed messages")
            .AddColumns("Job", "Source folder", "Target folder", "Retried", "Now copied", "Still failing", "No longer on source", "MB copied");
        foreach (var job in results)
        {
            foreach (var f in job.Folders.Where(f => !f.NothingToRetry))
            {
                var stillFailing = f.Failed - f.NoLongerOnSource;
                table.AddRow(
                    Text(job.Job), Text(f.SourceFolder), Text(f.TargetFolder),
                    f.Retried.ToString(), f.Copied.ToString(), stillFailing > 0 ? $"[red]{stillFailing}[/]" : "0",
                    f.NoLongerOnSource > 0 ? $"[yellow]{f.NoLongerOnSource}[/]" : "0", (f.CopiedBytes / 1e6).ToString("F1"));
            }
        }

        return table;
    }

    /// <summary>Text for the console: server bytes escaped (<see cref="ServerText"/>), then Spectre's markup.</summary>
    private static string Text(string? text) => Markup.Escape(ServerText.Escape(text) ?? string.Empty);

    private static int DateRuleOrder(string source) => source switch { "Received" => 0, "Date" => 1, _ => 2 };

    private static string DateRule(string source) => source switch
    {
        "Received" => "Received:",
        "Date" => "Date: (no usable Received:)",
        _ => "retrieval time (no usable Received: or Date:)",
    };
}
