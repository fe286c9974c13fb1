using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// Copies folder pairs over one connection pair (a source and a target connection). The
/// <see cref="MigrationEngine"/> runs several of these at once, each on its own folders; they
/// share the ledger (which serialises its calls) and the job's result (changed under its lock).
/// The discipline (DESIGN.md §2): resolve the previous run's pending intents first; commit a
/// batch's intents before its APPEND; record the outcome after; an ambiguous failure leaves the
/// intents pending so the next attempt reconciles against the target instead of appending blindly.
/// </summary>
internal sealed class FolderCopier(
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

    /// <summary>Copies one folder pair: what is new, flag changes on what was copied before, and nothing else.</summary>
    public async Task CopyFolderAsync(FolderMapping folder, bool targetExists, FolderResult folderResult, CancellationToken cancellationToken)
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
            await RepairAfterValidityChangeAsync(pair, records, sourceStatus, targetStatus, cancellationToken).ConfigureAwait(false);
            // Taken before reconciliation, which forgets the intents that never landed.
            retriesInFlight = records.Values.Where(RetrySelection.IsInterruptedRetry).ToList();
            folderResult.Reconciled += await _writer.ReconcilePendingAsync(pair, records, cancellationToken).ConfigureAwait(false);
        }

        if (!options.RetryFailed && pair.CompletedUtc is not null && pair.SourceUidNext == sourceStatus.UidNext
            && sourceStatus.HighestModSeq is { } modSeq && modSeq == pair.SourceHighestModSeq
            && records.Values.All(r => r.State != MessageState.Pending))
        {
            // Nothing arrived and nothing changed since the last complete pass: skip without listing.
            // Only a CONDSTORE server can say that no flag changed; without it the flags are fetched.
            // (A server with LIST-STATUS never gets here: MigrationEngine skips such a folder unopened.)
            folderResult.Unchanged = true;
            folderResult.AlreadyCopied = records.Values.Count(r => r.State == MessageState.Copied);
            foreach (var failed in records.Values.Where(r => r.State == MessageState.Failed))
                ReportEarlierFailure(folder, failed, folderResult);
            observer.FolderStarted(job, sourceName, targetName, 0, 0);
            return;
        }

        List<MessageInfo> toCopy;
        List<(MessageRecord Row, string Now)> flagChanges = [];
        if (options.RetryFailed)
        {
            toCopy = await SelectFailedAsync(pair, folder, records, retriesInFlight, folderResult, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            toCopy = await ListWorkAsync(pair, folder, sourceStatus, records, flagChanges, folderResult, cancellationToken).ConfigureAwait(false);
            if (pair.CompletedUtc is null && targetStatus.Count > 0 && toCopy.Count > 0)
                toCopy = await PairWithTargetAsync(pair, targetStatus, toCopy, records, flagChanges, folderResult, cancellationToken).ConfigureAwait(false);
        }

        observer.FolderStarted(job, sourceName, targetName, toCopy.Count, toCopy.Sum(m => m.Size));
        log.Information("{Job}: {Source} -> {Target}: {ToCopy} to {What}, {Done} already copied{Flags}", job, sourceName, targetName, toCopy.Count,
            options.RetryFailed ? "retry (failed earlier)" : "copy", folderResult.AlreadyCopied,
            flagChanges.Count > 0 ? $", flags changed on {flagChanges.Count}" : string.Empty);
        if (options.DryRun)
            return;

        var uidNext = targetStatus.UidNext;
        var keywords = new TargetKeywords(targetStatus.PermanentKeywords, targetStatus.AcceptsAnyKeyword);
        foreach (var batch in Batches.Of(toCopy, m => m.Size, options.BatchMessages, options.BatchBytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            uidNext = await CopyBatchAsync(pair, folder, keywords, batch, uidNext, records, folderResult, cancellationToken).ConfigureAwait(false);
        }

        if (flagChanges.Count > 0)
            await SyncFlagsAsync(pair, keywords, flagChanges, folderResult, cancellationToken).ConfigureAwait(false);

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
    /// What a normal pass has to do in an opened folder: the messages to copy (returned) and the
    /// copied messages whose flags changed on the source since they were last synced (into
    /// <paramref name="flagChanges"/>). After a complete pass only the new UIDs are listed, plus
    /// the flags changed since the recorded HIGHESTMODSEQ on a CONDSTORE server, or every
    /// message's flags (flags only, one FETCH) on a server that cannot say what changed; the first
    /// pass lists every message in one FETCH.
    /// </summary>
    private async Task<List<MessageInfo>> ListWorkAsync(
        FolderPairState pair, FolderMapping folder, FolderStatus sourceStatus, Dictionary<uint, MessageRecord> records,
        List<(MessageRecord Row, string Now)> flagChanges, FolderResult folderResult, CancellationToken cancellationToken)
    {
        var sourceName = folder.Source.FullName;
        // RepairAfterValidityChangeAsync clears CompletedUtc when UIDVALIDITY changed, so the cursors are trusted only here.
        var incremental = pair.CompletedUtc is not null && pair.SourceUidNext > 0;
        var condStore = sourceStatus.HighestModSeq is not null && pair.SourceHighestModSeq != 0;
        var summaries = await _sourceRetry.RunAsync(sourcePipelines.Read, $"list {sourceName}",
            ct => source.FetchSummariesAsync(incremental ? pair.SourceUidNext : 1, ct), cancellationToken).ConfigureAwait(false);
        IReadOnlyList<FlagState>? changed = null;
        if (incremental)
        {
            changed = await _sourceRetry.RunAsync(sourcePipelines.Read, $"flag changes in {sourceName}",
                ct => condStore ? source.FetchFlagChangesAsync(pair.SourceHighestModSeq, ct) : source.FetchAllFlagsAsync(ct), cancellationToken).ConfigureAwait(false);
        }

        var plan = MessagePlanner.Make(records, summaries, changed);
        flagChanges.AddRange(plan.FlagChanges);
        folderResult.AlreadyCopied += plan.AlreadyCopied;
        foreach (var failed in plan.EarlierFailures)
            ReportEarlierFailure(folder, failed, folderResult);
        return [.. plan.ToCopy];
    }

    /// <summary>
    /// Before a first complete pass into a target folder that already holds messages (a migrate
    /// into a mailbox partly copied by other means, or a ledger started afresh): the messages it
    /// holds that no ledger row claims are paired by content with the source messages about to be
    /// copied, and those are recorded as copied instead of appended again. Content is the
    /// Message-ID, INTERNALDATE and size; a message without a Message-ID pairs only when a hash of
    /// its header block matches too (fetched for just those messages), since two distinct
    /// messages of the same second and size must never be taken for each other: one would then
    /// never be copied. The source's flags are added to a paired copy, whose own flags stay.
    /// Returns what is left to copy.
    /// </summary>
    private async Task<List<MessageInfo>> PairWithTargetAsync(
        FolderPairState pair, FolderStatus targetStatus, List<MessageInfo> toCopy, Dictionary<uint, MessageRecord> records,
        List<(MessageRecord Row, string Now)> flagChanges, FolderResult folderResult, CancellationToken cancellationToken)
    {
        var present = await _writer.UnclaimedMessagesAsync(pair, records, cancellationToken).ConfigureAwait(false);
        var matched = ContentMatcher.Match(
            toCopy.Where(m => m.MessageId is not null), m => new ContentKey(m.MessageId!, m.InternalDate.ToUnixTimeSeconds(), m.Size),
            present.Where(m => m.MessageId is not null), c => c.Size).ToList();
        matched.AddRange(await PairWithoutMessageIdAsync(pair, toCopy, present, cancellationToken).ConfigureAwait(false));
        if (matched.Count == 0)
            return toCopy;

        var rows = new List<MessageRecord>();
        foreach (var (message, copy) in matched)
        {
            // Recorded as synced with no flags, then the source's flags noted as a change: the
            // flag pass adds them to the copy without removing the copy's own.
            var row = NewRecord(message, MessageState.Copied, copy.Uid, copy.Size, targetStatus.UidNext, null) with
            {
                SourceFlags = string.Empty,
                TargetFlags = FlagText.Format(copy.Flags & FlagText.Settable, copy.Keywords),
            };
            rows.Add(row);
            records[message.Uid] = row;
            var now = FlagText.Format(message.Flags & FlagText.Settable, message.Keywords);
            if (now.Length > 0)
                flagChanges.Add((row, now));
        }

        if (!options.DryRun)
            ledger.Save(pair.Id, rows);
        folderResult.FoundOnTarget += matched.Count;
        log.Information("{Job}: {Folder}: {Found} messages were on the target already and are not copied again", job, pair.TargetFolder, matched.Count);
        var paired = matched.Select(m => m.Wanted.Uid).ToHashSet();
        return toCopy.Where(m => !paired.Contains(m.Uid)).ToList();
    }

    /// <summary>
    /// Pairs messages without a Message-ID on both sides by INTERNALDATE, size and header-block
    /// hash, one to one in UID order; header blocks are fetched only where date and size meet.
    /// </summary>
    private async Task<List<(MessageInfo Wanted, MessageInfo Match)>> PairWithoutMessageIdAsync(
        FolderPairState pair, List<MessageInfo> toCopy, List<MessageInfo> present, CancellationToken cancellationToken)
    {
        static (long, long) Key(MessageInfo m) => (m.InternalDate.ToUnixTimeSeconds(), m.Size);
        var targets = present.Where(m => m.MessageId is null).ToLookup(Key);
        var sources = toCopy.Where(m => m.MessageId is null && targets.Contains(Key(m))).ToList();
        if (sources.Count == 0)
            return [];
        var candidates = sources.SelectMany(s => targets[Key(s)]).DistinctBy(t => t.Uid).ToList();
        var sourceHashes = await _sourceRetry.RunAsync(sourcePipelines.Read, $"header blocks in {pair.SourceFolder}",
            ct => source.FetchHeaderHashesAsync([.. sources.Select(s => s.Uid)], ct), cancellationToken).ConfigureAwait(false);
        var targetHashes = await _writer.FetchHeaderHashesAsync(pair.TargetFolder, [.. candidates.Select(c => c.Uid)], cancellationToken).ConfigureAwait(false);
        var free = candidates.Where(c => targetHashes.ContainsKey(c.Uid)).OrderBy(c => c.Uid).ToList();
        var result = new List<(MessageInfo, MessageInfo)>();
        foreach (var wanted in sources.OrderBy(s => s.Uid))
        {
            if (!sourceHashes.TryGetValue(wanted.Uid, out var hash))
                continue;
            var index = free.FindIndex(c => Key(c) == Key(wanted) && targetHashes[c.Uid] == hash);
            if (index < 0)
                continue;
            result.Add((wanted, free[index]));
            free.RemoveAt(index);
        }

        return result;
    }

    /// <summary>
    /// Carries flag changes of already-copied messages to their copies, as deltas (what the source
    /// added and removed since the last sync), so a flag the user set on the target meanwhile
    /// stays. Messages with the same delta share one UID STORE; the rows are saved in one transaction.
    /// </summary>
    private async Task SyncFlagsAsync(
        FolderPairState pair, TargetKeywords keywords, List<(MessageRecord Row, string Now)> changes, FolderResult folderResult, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<string, (FlagChange Change, List<uint> Uids)>(StringComparer.Ordinal);
        var rows = new List<MessageRecord>();
        foreach (var (row, now) in changes)
        {
            var (change, targetNow, dropped) = FlagMerge.OneWay(row.SourceFlags, now, row.TargetFlags, keywords.Filter);
            folderResult.NoteDroppedKeywords(dropped);
            rows.Add(row with { SourceFlags = now, TargetFlags = targetNow });
            if (change.IsEmpty)
                continue;
            var key = $"{change.Add}|{string.Join(' ', change.AddKeywords)}|{change.Remove}|{string.Join(' ', change.RemoveKeywords)}";
            if (!groups.TryGetValue(key, out var group))
                groups[key] = group = (change, []);
            group.Uids.Add(row.TargetUid!.Value);
        }

        foreach (var (change, uids) in groups.Values)
        {
            try
            {
                await _writer.StoreFlagsAsync(pair.TargetFolder, uids, change, cancellationToken).ConfigureAwait(false);
                keywords.Held(change.AddKeywords);
            }
            catch (StoreFailureException full) when (change.AddKeywords.Count > 0 && TargetKeywords.IsKeywordLimit(full.Message))
            {
                // The folder takes no more keywords: the same change without the ones it does not hold.
                keywords.Full();
                var (send, dropped) = keywords.Filter(change.AddKeywords);
                folderResult.NoteDroppedKeywords(dropped, uids.Count);
                var rest = change with { AddKeywords = send };
                if (!rest.IsEmpty)
                    await _writer.StoreFlagsAsync(pair.TargetFolder, uids, rest, cancellationToken).ConfigureAwait(false);
            }
        }

        ledger.Save(pair.Id, rows);
        folderResult.FlagsUpdated += rows.Count;
    }

    /// <summary>
    /// --retry-failed: the messages recorded as failed (or whose retry was interrupted) that the
    /// source still has, asked for by UID instead of listing the folder. The others are reported
    /// as no longer on the source and keep their rows. Each retried row goes into
    /// <paramref name="records"/> as the earlier row its new intent carries the attempts from.
    /// </summary>
    private async Task<List<MessageInfo>> SelectFailedAsync(
        FolderPairState pair, FolderMapping folder, Dictionary<uint, MessageRecord> records, IReadOnlyList<MessageRecord> retriesInFlight,
        FolderResult folderResult, CancellationToken cancellationToken)
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
            lock (result)
                result.Failures.Add(MessageFailure.NoLongerOnSource(folder.Source.FullName, row));
            log.Warning("{Job}: {Folder} UID {Uid} failed earlier and is no longer on the source; not retried", job, folder.Source.FullName, row.SourceUid);
        }

        folderResult.Retried = found.Count;
        return found.Select(f => f.Message).ToList();
    }

    private async Task<uint> CopyBatchAsync(
        FolderPairState pair, FolderMapping folder, TargetKeywords keywords, List<MessageInfo> batch, uint uidNext,
        IReadOnlyDictionary<uint, MessageRecord> records, FolderResult folderResult, CancellationToken cancellationToken)
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
                    ?? Prepare(message, spools.GetValueOrDefault(message.Uid), keywords, folderResult, out item, out targetSize);
                if (failure is not null)
                {
                    failures.Add(NewRecord(message, MessageState.Failed, null, 0, uidNext, failure) with { Attempts = (earlier?.Attempts ?? 0) + 1 });
                    RecordFailure(folder, message, failure, folderResult);
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
                pair, items, intents, uidNext, (intent, reason) => RecordFailure(folder, intent, reason, folderResult),
                keywords, folderResult, cancellationToken).ConfigureAwait(false);
            ledger.Save(pair.Id, done);

            var copied = done.Where(r => r.State == MessageState.Copied).ToList();
            lock (result)
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
                spools[uid] = await MessageSpool.TakeAsync(stream, sizes[uid], options.SpoolToDiskAbove, token).ConfigureAwait(false);
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

    private string? Prepare(MessageInfo message, Stream? spool, TargetKeywords keywords, FolderResult folderResult, out AppendItem? item, out long targetSize)
    {
        item = null;
        targetSize = 0;
        var failure = TargetWriter.Prepare(spool, target.TakesBinary, out var mime, out var binary, out var notCrlf);
        if (failure is not null)
            return failure;
        targetSize = spool!.Length;

        var (send, dropped) = keywords.Filter(message.Keywords);
        folderResult.NoteDroppedKeywords(dropped);
        item = new AppendItem(mime!, message.Flags & FlagText.Settable, send, message.InternalDate) { Size = targetSize, Binary = binary, NotCrlf = notCrlf };
        return null;
    }

    private async Task RepairAfterValidityChangeAsync(
        FolderPairState pair, Dictionary<uint, MessageRecord> records, FolderStatus sourceStatus, FolderStatus targetStatus, CancellationToken cancellationToken)
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
            result.Warn(log, job, $"{pair.SourceFolder}: source UIDVALIDITY changed ({pair.SourceUidValidity} -> {sourceStatus.UidValidity}); re-paired {rows.Count} of {records.Count} recorded messages by content");
        }

        if (targetChanged)
            rows = await _writer.FindAgainAsync(pair, targetStatus.UidValidity, rows, w => result.Warn(log, job, w), cancellationToken).ConfigureAwait(false);

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

    private void RecordFailure(FolderMapping folder, MessageInfo message, string reason, FolderResult folderResult)
        => RecordFailure(folder, NewRecord(message, MessageState.Failed, null, 0, 0, reason), reason, folderResult);

    private void RecordFailure(FolderMapping folder, MessageRecord record, string reason, FolderResult folderResult)
    {
        folderResult.Failed++;
        lock (result)
            result.Failures.Add(new MessageFailure(folder.Source.FullName, record.SourceUid, record.MessageId, record.SourceSize, reason));
        log.Warning("{Job}: {Folder} UID {Uid} not copied: {Reason}", job, folder.Source.FullName, record.SourceUid, reason);
    }

    private void ReportEarlierFailure(FolderMapping folder, MessageRecord record, FolderResult folderResult)
    {
        folderResult.Failed++;
        lock (result)
            result.Failures.Add(MessageFailure.FromEarlierRun(folder.Source.FullName, record));
    }


    private static MessageRecord NewRecord(MessageInfo message, MessageState state, uint? targetUid, long targetSize, uint uidNextBefore, string? error)
        => new(message.Uid, targetUid, state, message.MessageId, message.InternalDate.ToUnixTimeSeconds(), message.Size, targetSize,
            FlagText.Format(message.Flags & FlagText.Settable, message.Keywords), string.Empty, uidNextBefore, 0, error);
}
