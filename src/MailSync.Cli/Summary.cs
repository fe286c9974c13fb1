using MailSync.Core.Jobs;
using Spectre.Console;

namespace MailSync.Cli;

/// <summary>The table printed at the end of a run.</summary>
internal static class Summary
{
    public static void Write(IAnsiConsole console, IReadOnlyList<JobResult> results)
    {
        // One run has one mode: --retry-failed applies to every job it runs.
        var table = results.Any(r => r.RetryFailed) ? RetryTable(results) : Table(results);
        // A job that stopped before its first folder (bad host, refused certificate) has no rows:
        // an empty table would only push its error line out of sight.
        if (table.Rows.Count > 0)
            console.Write(table);
        foreach (var job in results)
        {
            var color = job.Status switch { JobStatus.Succeeded => "green", JobStatus.CompletedWithFailures => "yellow", _ => "red" };
            var dry = job.DryRun ? " (dry run: nothing was changed)" : string.Empty;
            var counts = job.Retry is { } retry
                ? $"retry of earlier failures: {retry.Retried} retried, {retry.NowCopied} now copied, {retry.StillFailing} still failing"
                    + (retry.NoLongerOnSource > 0 ? $", {retry.NoLongerOnSource} no longer on the source" : string.Empty)
                : $"{job.Appended} appended, {job.Failures.Count} not copied";
            console.MarkupLine($"[{color}]{Markup.Escape(job.Job)}: {job.Status}[/] — {Markup.Escape(counts)}, {job.Duration.TotalSeconds:F1} s{Markup.Escape(dry)}");
            if (job.Error is not null)
                console.MarkupLine($"  [red]{Markup.Escape(job.Error)}[/]");
            foreach (var failure in job.Failures.Take(20))
            {
                var which = failure.SourceKey is { } key ? $"POP3 message {key}" : $"{failure.SourceFolder} UID {failure.SourceUid}";
                console.MarkupLine($"  not copied: {Markup.Escape(which)} <{Markup.Escape(failure.MessageId ?? "no Message-ID")}>: {Markup.Escape(failure.Reason)}");
            }

            if (job.Failures.Count > 20)
                console.MarkupLine($"  … and {job.Failures.Count - 20} more (see --report)");
            foreach (var f in job.Folders.Where(f => f.SourceIdentity is not null))
            {
                var dates = string.Join(", ", f.DateSources.OrderBy(d => DateRuleOrder(d.Key)).Select(d => $"{d.Value} from {DateRule(d.Key)}"));
                console.MarkupLine($"  POP3 messages known by {Markup.Escape(f.SourceIdentity!)}; dates: {Markup.Escape(dates.Length == 0 ? "nothing copied" : dates)}; deleted from the server: {f.DeletedFromSource}");
            }

            foreach (var f in job.Folders.Where(f => f.Error is not null))
                console.MarkupLine($"  [yellow]folder skipped: {Markup.Escape(f.SourceFolder)} -> {Markup.Escape(f.TargetFolder)}:[/] {Markup.Escape(f.Error!)}");
            if (job.Recoveries.Count > 0)
                console.MarkupLine($"  recovered from {job.Recoveries.Count} connection or server failure(s) by waiting and retrying (see the log or --report)");
            foreach (var f in job.Folders.Where(f => f.DroppedKeywords.Count > 0))
                console.MarkupLine($"  [yellow]keywords refused by {Markup.Escape(f.TargetFolder)}:[/] {Markup.Escape(string.Join(", ", f.DroppedKeywords.Select(k => $"{k.Key} ({k.Value})")))}");
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
                    Markup.Escape(job.Job), Markup.Escape(f.SourceFolder), Markup.Escape(f.TargetFolder),
                    f.SourceMessages.ToString(), f.Copied.ToString(), (f.AlreadyCopied + f.Reconciled + f.FoundOnTarget).ToString(),
                    f.Failed > 0 ? $"[red]{f.Failed}[/]" : "0", (f.CopiedBytes / 1e6).ToString("F1"));
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
                    Markup.Escape(job.Job), Markup.Escape(f.SourceFolder), Markup.Escape(f.TargetFolder),
                    f.Retried.ToString(), f.Copied.ToString(), stillFailing > 0 ? $"[red]{stillFailing}[/]" : "0",
                    f.NoLongerOnSource > 0 ? $"[yellow]{f.NoLongerOnSource}[/]" : "0", (f.CopiedBytes / 1e6).ToString("F1"));
            }
        }

        return table;
    }

    private static int DateRuleOrder(string source) => source switch { "Received" => 0, "Date" => 1, _ => 2 };

    private static string DateRule(string source) => source switch
    {
        "Received" => "Received:",
        "Date" => "Date: (no usable Received:)",
        _ => "retrieval time (no usable Received: or Date:)",
    };
}
