using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using MimeKit;
using MimeKit.IO;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// Copies every mapped folder of a source into a target, one-way. The discipline (DESIGN.md §2):
/// resolve the previous run's pending intents first; commit a batch's intents before its APPEND;
/// record the outcome after; an ambiguous failure leaves the intents pending so the next attempt
/// reconciles against the target instead of appending blindly.
/// </summary>
public sealed class MigrationEngine(
    string job,
    IMessageSource source,
    IMessageTarget target,
    CheckpointLedger ledger,
    MigrationOptions options,
    JobResult result,
    AccountPipelines sourcePipelines,
    AccountPipelines targetPipelines,
    IMigrationObserver observer,
    ILogger log)
{
    private readonly StoreRetry _sourceRetry = StoreRetry.For(source, $"{job}: source", sourcePipelines, result, log);
    private readonly TargetWriter _writer = new(job, target, ledger, options, StoreRetry.For(target, $"{job}: target", targetPipelines, result, log), targetPipelines, log);

    public async Task RunAsync(FolderMappingOptions mapping, CancellationToken cancellationToken)
    {
        var sourceFolders = await _sourceRetry.RunAsync(sourcePipelines.Read, "list folders", source.ListFoldersAsync, cancellationToken).ConfigureAwait(false);
        var targetFolders = await _writer.ListFoldersAsync(cancellationToken).ConfigureAwait(false);
        var map = FolderMapper.Map(sourceFolders, source.Namespace, targetFolders, target.Namespace, mapping);
        foreach (var warning in map.Warnings)
        {
            log.Warning("{Job}: {Warning}", job, warning);
            result.Warnings.Add(warning);
        }

        foreach (var excluded in map.Excluded)
            log.Debug("{Job}: folder {Folder} skipped: {Reason}", job, excluded.SourcePath, excluded.Reason);

        var unusable = options.DryRun
            ? []
            : await _writer.EnsureFoldersAsync(map, targetFolders, cancellationToken).ConfigureAwait(false);

        var existingTargets = targetFolders.Select(f => f.FullName).Append("INBOX").ToHashSet(StringComparer.Ordinal);
        foreach (var folder in map.Mappings.Where(m => m.Source.Selectable))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var folderResult = new FolderResult { SourceFolder = folder.Source.FullName, TargetFolder = folder.TargetName };
            result.Folders.Add(folderResult);
            if (unusable.TryGetValue(folder.TargetName, out var why))
            {
                SkipFolder(folderResult, why);
                continue;
            }

            try
            {
                await CopyFolderAsync(folder, existingTargets.Contains(folder.TargetName), folderResult, result, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind == FailureKind.Folder)
            {
                // One folder cannot be read or written ([NOPERM], gone, UIDVALIDITY changed under
                // us): whatever is pending stays in the ledger for the next run; the others go on.
                SkipFolder(folderResult, ex.Message);
            }

            observer.FolderFinished(job, folderResult);
        }
    }

    private void SkipFolder(FolderResult folderResult, string reason)
    {
        folderResult.Error = reason;
        Warn(result, $"{folderResult.SourceFolder} -> {folderResult.TargetFolder}: folder skipped: {reason}");
    }

    private async Task CopyFolderAsync(FolderMapping folder, bool targetExists, FolderResult folderResult, JobResult result, CancellationToken cancellationToken)
    {
        var sourceName = folder.Source.FullName;
        var targetName = folder.TargetName;
        var pair = ledger.GetOrCreatePair(job, sourceName, targetName);
        var records = ledger.LoadMessages(pair.Id);
        if (options.RetryFailed && !RetrySelection.HasWork(records.Values))
        {
            // Nothing failed here: a retry pass does not even open the folder, so it stays cheap on a big account.
            folderResult.NothingToRetry = true;
            return;
        }

        var sourceStatus = await _sourceRetry.RunAsync(sourcePipelines.Read, $"select {sourceName}", ct => source.OpenFolderAsync(sourceName, forWriting: false, ct), cancellationToken)
            .ConfigureAwait(false);
        folderResult.SourceMessages = sourceStatus.Count;

        var targetStatus = await _writer.OpenAsync(targetName, targetExists, options.DryRun, cancellationToken).ConfigureAwait(false);

        List<MessageRecord> retriesInFlight = [];
        if (!options.DryRun)
        {
            await RepairAfterValidityChangeAsync(pair, records, sourceStatus, targetStatus, result, cancellationToken).ConfigureAwait(false);
            // Taken before reconciliation, which forgets the intents that never landed.
            retriesInFlight = records.Values.Where(RetrySelection.IsInterruptedRetry).ToList();
            folderResult.Reconciled += await _writer.ReconcilePendingAsync(pair, records, cancellationToken).ConfigureAwait(false);
        }

        if (!options.RetryFailed && pair.CompletedUtc is not null && pair.SourceUidNext == sourceStatus.UidNext
            && (sourceStatus.HighestModSeq is null || sourceStatus.HighestModSeq == pair.SourceHighestModSeq)
            && records.Values.All(r => r.State != MessageState.Pending))
        {
            // Nothing arrived and nothing changed since the last complete pass: skip without listing.
            folderResult.Unchanged = true;
            folderResult.AlreadyCopied = records.Values.Count(r => r.State == MessageState.Copied);
            foreach (var failed in records.Values.Where(r => r.State == MessageState.Failed))
                ReportEarlierFailure(folder, failed, folderResult, result);
            observer.FolderStarted(job, sourceName, targetName, 0, 0);
            return;
        }

        List<MessageInfo> toCopy;
        if (options.RetryFailed)
        {
            toCopy = await SelectFailedAsync(pair, folder, records, retriesInFlight, folderResult, result, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var summaries = await _sourceRetry.RunAsync(sourcePipelines.Read, $"list {sourceName}", ct => source.FetchSummariesAsync(1, ct), cancellationToken).ConfigureAwait(false);
            toCopy = [];
            foreach (var summary in summaries)
            {
                if (!records.TryGetValue(summary.Uid, out var record))
                    toCopy.Add(summary);
                else if (record.State == MessageState.Copied)
                    folderResult.AlreadyCopied++;
                else if (record.State == MessageState.Failed)
                    ReportEarlierFailure(folder, record, folderResult, result);
            }
        }

        observer.FolderStarted(job, sourceName, targetName, toCopy.Count, toCopy.Sum(m => m.Size));
        log.Information("{Job}: {Source} -> {Target}: {ToCopy} to {What}, {Done} already copied", job, sourceName, targetName, toCopy.Count,
            options.RetryFailed ? "retry (failed earlier)" : "copy", folderResult.AlreadyCopied);
        if (options.DryRun)
            return;

        var uidNext = targetStatus.UidNext;
        foreach (var batch in Batches.Of(toCopy, m => m.Size, options.BatchMessages, options.BatchBytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            uidNext = await CopyBatchAsync(pair, folder, targetStatus, batch, uidNext, records, folderResult, result, cancellationToken).ConfigureAwait(false);
        }

        // A retry pass looked at the failed messages only: the cursors must keep saying where the
        // last full pass ended, or the next normal run would skip, as an unchanged folder, the
        // messages that arrived since.
        if (options.RetryFailed)
            return;

        pair.SourceUidValidity = sourceStatus.UidValidity;
        pair.SourceUidNext = sourceStatus.UidNext;
        pair.SourceHighestModSeq = sourceStatus.HighestModSeq ?? 0;
        pair.TargetUidValidity = targetStatus.UidValidity;
        pair.TargetUidNext = uidNext;
        pair.CompletedUtc = DateTimeOffset.UtcNow;
        ledger.SavePair(pair);
    }

    /// <summary>
    /// --retry-failed: the messages recorded as failed (or whose retry was interrupted) that the
    /// source still has, asked for by UID instead of listing the folder. The others are reported
    /// as no longer on the source and keep their rows. Each retried row goes into
    /// <paramref name="records"/> as the earlier row its new intent carries the attempts from.
    /// </summary>
    private async Task<List<MessageInfo>> SelectFailedAsync(
        FolderPairState pair, FolderMapping folder, Dictionary<uint, MessageRecord> records, IReadOnlyList<MessageRecord> retriesInFlight,
        FolderResult folderResult, JobResult result, CancellationToken cancellationToken)
    {
        var candidates = RetrySelection.Candidates(records, retriesInFlight);
        var uids = candidates.Select(c => c.SourceUid).ToList();
        var summaries = await _sourceRetry.RunAsync(sourcePipelines.Read, $"look up {uids.Count} failed messages", ct => source.FetchSummariesAsync(uids, ct), cancellationToken)
            .ConfigureAwait(false);
        var (found, gone) = RetrySelection.Match(candidates, summaries, s => s.Uid, r => r.SourceUid);
        foreach (var row in candidates)
            records[row.SourceUid] = row;
        // Written back because reconciliation forgets an interrupted retry that never landed.
        if (gone.Count > 0 && !options.DryRun)
            ledger.Save(pair.Id, gone);
        foreach (var row in gone)
        {
            folderResult.NoLongerOnSource++;
            folderResult.Failed++;
            result.Failures.Add(MessageFailure.NoLongerOnSource(folder.Source.FullName, row));
            log.Warning("{Job}: {Folder} UID {Uid} failed earlier and is no longer on the source; not retried", job, folder.Source.FullName, row.SourceUid);
        }

        folderResult.Retried = found.Count;
        return found.Select(f => f.Message).ToList();
    }

    private async Task<uint> CopyBatchAsync(
        FolderPairState pair, FolderMapping folder, FolderStatus targetStatus, List<MessageInfo> batch, uint uidNext,
        IReadOnlyDictionary<uint, MessageRecord> records, FolderResult folderResult, JobResult result, CancellationToken cancellationToken)
    {
        var spools = new Dictionary<uint, Stream>();
        var unreadable = new Dictionary<uint, string>();
        try
        {
            await ReadBatchAsync(batch, spools, unreadable, cancellationToken).ConfigureAwait(false);

            var items = new List<AppendItem>();
            var intents = new List<MessageRecord>();
            var failures = new List<MessageRecord>();
            foreach (var message in batch)
            {
                // Only a retried message has a row already; a new one starts at zero attempts.
                var earlier = records.GetValueOrDefault(message.Uid);
                AppendItem? item = null;
                long targetSize = 0;
                var failure = unreadable.GetValueOrDefault(message.Uid)
                    ?? Prepare(message, spools.GetValueOrDefault(message.Uid), targetStatus, folderResult, result, out item, out targetSize);
                if (failure is not null)
                {
                    failures.Add(NewRecord(message, MessageState.Failed, null, 0, uidNext, failure) with { Attempts = (earlier?.Attempts ?? 0) + 1 });
                    RecordFailure(folder, message, failure, folderResult, result);
                    continue;
                }

                items.Add(item!);
                intents.Add(NewRecord(message, MessageState.Pending, null, targetSize, uidNext, null) with
                {
                    TargetFlags = FlagText.Format(item!.Flags, item.Keywords),
                    // A retry keeps counting, and its earlier reason marks the intent as a retry
                    // should this run be interrupted (RetrySelection.IsInterruptedRetry).
                    Attempts = earlier?.Attempts ?? 0,
                    LastError = earlier?.LastError,
                });
            }

            // The journal entry comes first: if we die during the APPEND, the next run knows to look.
            ledger.Save(pair.Id, intents.Concat(failures));
            if (items.Count == 0)
                return uidNext;

            var done = await _writer.AppendAsync(
                pair, items, intents, uidNext, (intent, reason) => RecordFailure(folder, intent, reason, folderResult, result), cancellationToken).ConfigureAwait(false);
            ledger.Save(pair.Id, done);

            var copied = done.Where(r => r.State == MessageState.Copied).ToList();
            result.Appended += copied.Count;
            folderResult.Copied += copied.Count;
            var bytes = copied.Sum(r => r.TargetSize);
            folderResult.CopiedBytes += bytes;
            observer.MessagesCopied(job, done.Count + failures.Count, batch.Sum(m => m.Size));
            var highest = done.Where(r => r.TargetUid is not null).Select(r => r.TargetUid!.Value).DefaultIfEmpty(uidNext - 1).Max();
            return Math.Max(uidNext, highest + 1);
        }
        finally
        {
            foreach (var spool in spools.Values)
                await spool.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Downloads a batch into <paramref name="spools"/> in one FETCH. A retry after a dropped
    /// connection fetches only what is still missing. When the server refuses the batch for a
    /// message-class reason, the messages are fetched one by one and the ones it will not give
    /// are recorded in <paramref name="unreadable"/> with the reason.
    /// </summary>
    private async Task ReadBatchAsync(List<MessageInfo> batch, Dictionary<uint, Stream> spools, Dictionary<uint, string> unreadable, CancellationToken cancellationToken)
    {
        var sizes = batch.ToDictionary(m => m.Uid, m => m.Size);
        async Task ReadAsync(IReadOnlyList<uint> uids, CancellationToken ct)
        {
            var missing = uids.Where(u => !spools.ContainsKey(u)).ToList();
            if (missing.Count == 0)
                return;
            await source.ReadMessagesAsync(missing, missing.Sum(u => sizes[u]), async (uid, stream, token) =>
            {
                var size = sizes[uid];
                Stream spool = size > options.SpoolToDiskAbove
                    ? new FileStream(Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose)
                    : new MemoryStream((int)Math.Max(0, size));
                try
                {
                    await stream.CopyToAsync(spool, token).ConfigureAwait(false);
                }
                catch
                {
                    await spool.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                spools[uid] = spool;
            }, ct).ConfigureAwait(false);
        }

        var all = batch.Select(m => m.Uid).ToList();
        try
        {
            await _sourceRetry.RunAsync(sourcePipelines.Read, $"fetch {all.Count} messages", ct => ReadAsync(all, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (StoreFailureException ex) when (ex.Kind == FailureKind.Message)
        {
            log.Debug("{Job}: batch fetch refused ({Reason}); fetching one by one", job, ex.Message);
            foreach (var uid in all.Where(u => !spools.ContainsKey(u)))
            {
                try
                {
                    await _sourceRetry.RunAsync(sourcePipelines.Read, $"fetch UID {uid}", ct => ReadAsync([uid], ct), cancellationToken).ConfigureAwait(false);
                }
                catch (StoreFailureException one) when (one.Kind == FailureKind.Message)
                {
                    unreadable[uid] = $"the source would not return it: {one.Message}";
                }
            }
        }
    }

    private string? Prepare(MessageInfo message, Stream? spool, FolderStatus targetStatus, FolderResult folderResult, JobResult result, out AppendItem? item, out long targetSize)
    {
        item = null;
        var failure = TargetWriter.Prepare(spool, out var mime, out var shape, out targetSize);
        if (failure is not null)
            return failure;
        if (shape == RawMessage.Shape.EmptyHeaderAdded)
            Warn(result, $"{folderResult.SourceFolder} UID {message.Uid}: no readable header; copied as a body behind an empty header block");

        var keywords = new List<string>();
        foreach (var keyword in message.Keywords)
        {
            if (targetStatus.AcceptsAnyKeyword || targetStatus.PermanentKeywords.Contains(keyword))
            {
                keywords.Add(keyword);
            }
            else
            {
                folderResult.DroppedKeywords[keyword] = folderResult.DroppedKeywords.GetValueOrDefault(keyword) + 1;
            }
        }

        item = new AppendItem(mime!, message.Flags & FlagText.Settable, keywords, message.InternalDate) { Size = targetSize };
        return null;
    }

    private async Task RepairAfterValidityChangeAsync(
        FolderPairState pair, Dictionary<uint, MessageRecord> records, FolderStatus sourceStatus, FolderStatus targetStatus,
        JobResult result, CancellationToken cancellationToken)
    {
        var sourceChanged = pair.SourceUidValidity != 0 && pair.SourceUidValidity != sourceStatus.UidValidity;
        var targetChanged = pair.TargetUidValidity != 0 && pair.TargetUidValidity != targetStatus.UidValidity;
        if (!sourceChanged && !targetChanged)
        {
            pair.SourceUidValidity = sourceStatus.UidValidity;
            pair.TargetUidValidity = targetStatus.UidValidity;
            ledger.SavePair(pair);
            return;
        }

        var rows = records.Values.ToList();
        if (sourceChanged)
        {
            // Old source UIDs mean nothing now: find each recorded message again by content.
            var summaries = await _sourceRetry.RunAsync(sourcePipelines.Read, $"list {pair.SourceFolder}", ct => source.FetchSummariesAsync(1, ct), cancellationToken)
                .ConfigureAwait(false);
            var matched = ContentMatcher.Match(rows, r => new ContentKey(r.MessageId ?? string.Empty, r.InternalDateUnix, r.SourceSize), summaries, s => s.Size);
            rows = matched.Select(m => m.Wanted with { SourceUid = m.Match.Uid }).ToList();
            Warn(result, $"{pair.SourceFolder}: source UIDVALIDITY changed ({pair.SourceUidValidity} -> {sourceStatus.UidValidity}); re-paired {rows.Count} of {records.Count} recorded messages by content");
        }

        if (targetChanged)
            rows = await _writer.FindAgainAsync(pair, targetStatus.UidValidity, rows, w => Warn(result, w), cancellationToken).ConfigureAwait(false);

        ledger.ReplaceAll(pair.Id, rows);
        records.Clear();
        foreach (var row in rows)
            records[row.SourceUid] = row;
        pair.SourceUidValidity = sourceStatus.UidValidity;
        pair.TargetUidValidity = targetStatus.UidValidity;
        // The cursors belonged to the old UIDs: force a full pass.
        pair.CompletedUtc = null;
        ledger.SavePair(pair);
    }

    private void RecordFailure(FolderMapping folder, MessageInfo message, string reason, FolderResult folderResult, JobResult result)
        => RecordFailure(folder, NewRecord(message, MessageState.Failed, null, 0, 0, reason), reason, folderResult, result);

    private void RecordFailure(FolderMapping folder, MessageRecord record, string reason, FolderResult folderResult, JobResult result)
    {
        folderResult.Failed++;
        result.Failures.Add(new MessageFailure(folder.Source.FullName, record.SourceUid, record.MessageId, record.SourceSize, reason));
        log.Warning("{Job}: {Folder} UID {Uid} not copied: {Reason}", job, folder.Source.FullName, record.SourceUid, reason);
    }

    private static void ReportEarlierFailure(FolderMapping folder, MessageRecord record, FolderResult folderResult, JobResult result)
    {
        folderResult.Failed++;
        result.Failures.Add(MessageFailure.FromEarlierRun(folder.Source.FullName, record));
    }

    private void Warn(JobResult result, string warning)
    {
        log.Warning("{Job}: {Warning}", job, warning);
        result.Warnings.Add(warning);
    }

    private static MessageRecord NewRecord(MessageInfo message, MessageState state, uint? targetUid, long targetSize, uint uidNextBefore, string? error)
        => new(message.Uid, targetUid, state, message.MessageId, message.InternalDate.ToUnixTimeSeconds(), message.Size, targetSize,
            FlagText.Format(message.Flags & FlagText.Settable, message.Keywords), string.Empty, uidNextBefore, 0, error);
}
