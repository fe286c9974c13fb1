using System.Collections.ObjectModel;
using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using MailSync.Core.Stores.Pop3;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// Copies a POP3 mailbox into one target folder, exactly once. Messages are known by UIDL (or a
/// fingerprint), never by message number; each batch's intents are committed before its APPEND,
/// as in the IMAP engine (<see cref="TwoWay.SyncEngine"/>). Deleting from the server, when the job asks for it, comes
/// last: DELE only for messages whose copy the ledger already holds as confirmed, then QUIT.
/// </summary>
public sealed class Pop3MigrationEngine(
    string job,
    Pop3Mailbox source,
    IMessageTarget target,
    CheckpointLedger ledger,
    MigrationOptions options,
    Pop3JobSettings settings,
    JobResult result,
    AccountPipelines sourcePipelines,
    AccountPipelines targetPipelines,
    IMigrationObserver observer,
    ILogger log)
{
    /// <summary>The ledger's and the report's name for the maildrop: POP3 sees only the inbox.</summary>
    public const string SourceFolder = "INBOX";

    private readonly TargetWriter _writer = new(job, target, ledger, options, StoreRetry.For(target, $"{job}: target", targetPipelines, result, log), targetPipelines, log);

    /// <summary>
    /// A dropped POP3 session cannot be resumed (message numbers belong to it), so a source failure
    /// starts a new session, which lists the maildrop again and skips what the ledger has.
    /// </summary>
    private readonly StoreRetry _sessionRetry = new($"{job}: POP3 {source.Endpoint}", () => source.IsConnected, source.ConnectAsync, sourcePipelines.Circuit, result, log);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var targetFolders = await _writer.ListFoldersAsync(cancellationToken).ConfigureAwait(false);
        var renames = settings.TargetFolder is { } folder
            ? new ReadOnlyDictionary<string, string>(new Dictionary<string, string> { [SourceFolder] = folder })
            : ReadOnlyDictionary<string, string>.Empty;
        var map = FolderMapper.Map(
            [new FolderInfo(SourceFolder, '/', SpecialUse.Inbox, Subscribed: true)], new NamespaceInfo(string.Empty, '/'),
            targetFolders, target.Namespace, new FolderMappingOptions([], [], renames, null));
        foreach (var warning in map.Warnings)
            Warn(result, warning);
        var targetName = map.Mappings.Single(m => m.Source.Selectable).TargetName;
        var targetExists = LogicalPath.IsInbox(targetName) || targetFolders.Any(f => f.FullName == targetName);
        var unusable = options.DryRun ? [] : await _writer.EnsureFoldersAsync(map, targetFolders, cancellationToken).ConfigureAwait(false);

        var folderResult = new FolderResult { SourceFolder = SourceFolder, TargetFolder = targetName };
        result.Folders.Add(folderResult);
        if (unusable.TryGetValue(targetName, out var why))
        {
            // The only folder of this job: the job cannot do anything.
            throw new StoreFailureException(new FailureClassification(FailureKind.Folder, $"target folder {targetName} cannot be used: {why}"));
        }

        var failuresBefore = result.Failures.Count;
        var warningsBefore = result.Warnings.Count;
        var copiedBefore = 0;
        await _sessionRetry.RunAsync(sourcePipelines.Read, "copy the maildrop", async (isRetry, ct) =>
        {
            if (isRetry)
            {
                // A new session counts and reports again what the dropped one had counted.
                result.Failures.RemoveRange(failuresBefore, result.Failures.Count - failuresBefore);
                result.Warnings.RemoveRange(warningsBefore, result.Warnings.Count - warningsBefore);
                folderResult.AlreadyCopied = 0;
                folderResult.Failed = 0;
                copiedBefore = folderResult.Copied + folderResult.Reconciled;
            }

            await CopyAsync(targetName, targetExists, folderResult, result, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        // Copies of a dropped session are this run's work, not "already copied".
        folderResult.AlreadyCopied = Math.Max(0, folderResult.AlreadyCopied - copiedBefore);
        observer.FolderFinished(job, folderResult);
    }

    private async Task CopyAsync(string targetName, bool targetExists, FolderResult folderResult, JobResult result, CancellationToken cancellationToken)
    {
        var pair = ledger.GetOrCreatePair(job, SourceFolder, targetName);
        var records = ledger.LoadMessages(pair.Id);
        if (options.RetryFailed && !RetrySelection.HasWork(records.Values))
        {
            // Nothing failed here: a retry pass neither lists the maildrop nor opens the target.
            folderResult.NothingToRetry = true;
            await source.CloseAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var targetStatus = await _writer.OpenAsync(targetName, targetExists, options.DryRun, cancellationToken).ConfigureAwait(false);

        List<MessageRecord> retriesInFlight = [];
        if (!options.DryRun)
        {
            await RepairAfterValidityChangeAsync(pair, records, targetStatus, result, cancellationToken).ConfigureAwait(false);
            // Taken before reconciliation, which forgets the intents that never landed.
            retriesInFlight = records.Values.Where(RetrySelection.IsInterruptedRetry).ToList();
            folderResult.Reconciled += await _writer.ReconcilePendingAsync(pair, records, cancellationToken).ConfigureAwait(false);
        }

        var listing = await source.ListAsync(cancellationToken).ConfigureAwait(false);
        folderResult.SourceMessages = listing.Count;
        folderResult.SourceIdentity = source.HasUidl ? "UIDL" : "fingerprint";
        if (!source.HasUidl)
            Warn(result, $"{source.Endpoint}: the server has no UIDL; messages are known by a fingerprint of their header block (TOP n 0) and size instead. Identical messages are told apart only by their order on the server");

        List<Pop3Listing> toCopy;
        if (options.RetryFailed)
        {
            toCopy = SelectFailed(pair, records, retriesInFlight, listing, folderResult, result);
        }
        else
        {
            var byKey = records.Values.Where(r => r.SourceKey is not null).ToDictionary(r => r.SourceKey!, StringComparer.Ordinal);
            toCopy = [];
            foreach (var message in listing)
            {
                if (!byKey.TryGetValue(message.Key, out var record))
                    toCopy.Add(message);
                else if (record.State == MessageState.Copied)
                    folderResult.AlreadyCopied++;
                else if (record.State == MessageState.Failed)
                {
                    folderResult.Failed++;
                    result.Failures.Add(MessageFailure.FromEarlierRun(SourceFolder, record));
                }
            }
        }

        observer.FolderStarted(job, SourceFolder, targetName, toCopy.Count, toCopy.Sum(m => m.Size));
        log.Information("{Job}: POP3 {Source} -> {Target}: {ToCopy} to {What}, {Done} already copied", job, source.Endpoint, targetName, toCopy.Count,
            options.RetryFailed ? "retry (failed earlier)" : "copy", folderResult.AlreadyCopied);
        if (options.DryRun)
        {
            await source.CloseAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var (flags, keywords, dropped) = TargetFlags(targetStatus);
        var nextId = records.Count == 0 ? 1u : records.Keys.Max() + 1;
        // A retried message keeps its row (and MailSync number); a new one gets the next number.
        var retryIds = options.RetryFailed
            ? records.Values.Where(r => r.State == MessageState.Failed && r.SourceKey is not null).ToDictionary(r => r.SourceKey!, r => r.SourceUid, StringComparer.Ordinal)
            : null;
        var uidNext = targetStatus.UidNext;
        var targetKeywords = new TargetKeywords(targetStatus.PermanentKeywords, targetStatus.AcceptsAnyKeyword);
        foreach (var batch in Batches.Of(toCopy, m => m.Size, options.BatchMessages, options.BatchBytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<uint> ids;
            if (retryIds is not null)
            {
                ids = batch.Select(m => retryIds[m.Key]).ToList();
            }
            else
            {
                ids = Enumerable.Range(0, batch.Count).Select(i => nextId + (uint)i).ToList();
                nextId += (uint)batch.Count;
            }

            uidNext = await CopyBatchAsync(pair, batch, ids, flags, keywords, targetKeywords, uidNext, records, folderResult, result, cancellationToken).ConfigureAwait(false);
        }

        foreach (var keyword in dropped)
            folderResult.DroppedKeywords[keyword] = folderResult.Copied;
        // As in the IMAP engine, a retry pass does not mark the pair as completed: it saw only the failures.
        if (!options.RetryFailed)
        {
            pair.TargetUidValidity = targetStatus.UidValidity;
            pair.TargetUidNext = uidNext;
            pair.CompletedUtc = DateTimeOffset.UtcNow;
            ledger.SavePair(pair);
        }

        // A retry pass deletes (when the job says so) only the messages it retried and now holds as
        // copied; the next normal run applies the rule to the rest, as it always does.
        if (settings.DeleteFromSource)
            await DeleteConfirmedAsync(pair, options.RetryFailed ? toCopy : listing, folderResult, cancellationToken).ConfigureAwait(false);
        else
            await source.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// --retry-failed: the listed messages whose row is failed (or whose retry was interrupted);
    /// the others are reported as no longer on the server and keep their rows. Each retried row
    /// goes into <paramref name="records"/> as the earlier row its new intent carries the attempts from.
    /// </summary>
    private List<Pop3Listing> SelectFailed(
        FolderPairState pair, Dictionary<uint, MessageRecord> records, IReadOnlyList<MessageRecord> retriesInFlight, IReadOnlyList<Pop3Listing> listing,
        FolderResult folderResult, JobResult result)
    {
        var candidates = RetrySelection.Candidates(records, retriesInFlight);
        var (found, gone) = RetrySelection.Match(candidates, listing, m => m.Key, r => r.SourceKey ?? string.Empty);
        foreach (var row in candidates)
            records[row.SourceUid] = row;
        // Written back because reconciliation forgets an interrupted retry that never landed.
        if (gone.Count > 0 && !options.DryRun)
            ledger.Save(pair.Id, gone);
        foreach (var row in gone)
        {
            folderResult.NoLongerOnSource++;
            folderResult.Failed++;
            result.Failures.Add(MessageFailure.NoLongerOnSource(SourceFolder, row));
            log.Warning("{Job}: POP3 message {Key} failed earlier and is no longer on the server; not retried", job, row.SourceKey);
        }

        folderResult.Retried = found.Count;
        return found.Select(f => f.Message).ToList();
    }

    private async Task<uint> CopyBatchAsync(
        FolderPairState pair, List<Pop3Listing> batch, List<uint> ids, MessageFlags flags, IReadOnlyList<string> keywords, TargetKeywords targetKeywords, uint uidNext,
        IReadOnlyDictionary<uint, MessageRecord> records, FolderResult folderResult, JobResult result, CancellationToken cancellationToken)
    {
        // The fallback date of a message without usable headers: when it was fetched, to the second.
        var retrievedAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var streams = await source.RetrieveAsync(batch.Select(m => m.Index).ToList(), cancellationToken).ConfigureAwait(false);
        try
        {
            var items = new List<AppendItem>();
            var intents = new List<MessageRecord>();
            var failures = new List<MessageRecord>();
            var messageIds = new Dictionary<uint, string?>();
            for (var i = 0; i < batch.Count; i++)
            {
                var message = batch[i];
                // Only a retried message has a row already; a new one starts at zero attempts.
                var earlier = records.GetValueOrDefault(ids[i]);
                var spool = i < streams.Count ? streams[i] : null;
                var failure = TargetWriter.Prepare(spool, target.TakesBinary, out var mime, out var binary, out var notCrlf);
                if (failure is not null)
                {
                    var failed = NewRecord(ids[i], message, MessageState.Failed, 0, 0, null, uidNext, failure) with { Attempts = (earlier?.Attempts ?? 0) + 1 };
                    failures.Add(failed);
                    RecordFailure(failed, null, failure, folderResult, result);
                    continue;
                }

                // Identity and date come from the raw header lines, read tolerantly; the bytes
                // appended are RETR's, dot-unstuffed, and nothing else.
                var headers = RawMessage.ReadHeaders(spool!);
                var targetSize = spool!.Length;
                var (date, dateSource) = ArrivalDate.Choose(headers, retrievedAt);
                messageIds[ids[i]] = RawMessage.MessageId(headers);
                items.Add(new AppendItem(mime!, flags, keywords, date) { Size = targetSize, Binary = binary, NotCrlf = notCrlf });
                // The Message-ID is left out of the matching key: MimeKit's reading of a broken
                // header may differ from the target's envelope, and date + size already pair.
                intents.Add(NewRecord(ids[i], message, MessageState.Pending, date.ToUnixTimeSeconds(), targetSize, dateSource, uidNext, null) with
                {
                    TargetFlags = FlagText.Format(flags, keywords),
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
                pair, items, intents, uidNext, (intent, reason) => RecordFailure(intent, messageIds.GetValueOrDefault(intent.SourceUid), reason, folderResult, result),
                targetKeywords, folderResult, cancellationToken).ConfigureAwait(false);
            ledger.Save(pair.Id, done);

            foreach (var row in done.Where(r => r.State == MessageState.Copied))
            {
                folderResult.Copied++;
                folderResult.CopiedBytes += row.TargetSize;
                folderResult.DateSources[row.DateSource!] = folderResult.DateSources.GetValueOrDefault(row.DateSource!) + 1;
                if (row.DateSource != nameof(ArrivalDateSource.Received))
                    folderResult.DatedWithoutReceived.Add(new DatedMessage(row.SourceKey!, row.TargetUid, DateTimeOffset.FromUnixTimeSeconds(row.InternalDateUnix), row.DateSource!));
            }

            result.Appended += done.Count(r => r.State == MessageState.Copied);
            observer.MessagesCopied(job, batch.Count, batch.Sum(m => m.Size));
            var highest = done.Where(r => r.TargetUid is not null).Select(r => r.TargetUid!.Value).DefaultIfEmpty(uidNext - 1).Max();
            return Math.Max(uidNext, highest + 1);
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// DELE for every message on the server whose copy the ledger holds as confirmed (read back
    /// from disk, so only what is committed counts), then QUIT, which makes the server delete.
    /// </summary>
    private async Task DeleteConfirmedAsync(FolderPairState pair, IReadOnlyList<Pop3Listing> listing, FolderResult folderResult, CancellationToken cancellationToken)
    {
        var confirmed = ledger.LoadMessages(pair.Id).Values
            .Where(r => r.SourceKey is not null && r.State == MessageState.Copied && r.TargetUid is not null)
            .ToDictionary(r => r.SourceKey!, StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow;
        long? cutoff = settings.DeleteOlderThanDays is { } days ? now.AddDays(-days).ToUnixTimeSeconds() : null;
        var doomed = listing
            .Where(m => confirmed.TryGetValue(m.Key, out var r) && (cutoff is null || r.InternalDateUnix < cutoff))
            .ToList();
        log.Information("{Job}: deleting {Count} confirmed messages from {Source}{Age}", job, doomed.Count, source.Endpoint,
            cutoff is null ? string.Empty : $" (only those older than {settings.DeleteOlderThanDays} days)");
        await source.DeleteAndQuitAsync(doomed.Select(m => m.Index).ToList(), cancellationToken).ConfigureAwait(false);
        // The server acknowledged QUIT: the deletions happened. Recorded for the report and audits.
        ledger.Save(pair.Id, doomed.Select(m => confirmed[m.Key] with { SourceDeletedUtc = now }));
        folderResult.DeletedFromSource = doomed.Count;
    }

    private async Task RepairAfterValidityChangeAsync(
        FolderPairState pair, Dictionary<uint, MessageRecord> records, FolderStatus targetStatus, JobResult result, CancellationToken cancellationToken)
    {
        if (pair.TargetUidValidity != 0 && pair.TargetUidValidity != targetStatus.UidValidity)
        {
            var rows = await _writer.FindAgainAsync(pair, targetStatus.UidValidity, records.Values.ToList(), w => Warn(result, w), cancellationToken).ConfigureAwait(false);
            ledger.ReplaceAll(pair.Id, rows);
            records.Clear();
            foreach (var row in rows)
                records[row.SourceUid] = row;
            pair.CompletedUtc = null;
        }

        pair.TargetUidValidity = targetStatus.UidValidity;
        ledger.SavePair(pair);
    }

    /// <summary>The job's target flags, and apart the keywords the target folder cannot store (reported by name).</summary>
    private (MessageFlags Flags, IReadOnlyList<string> Keywords, IReadOnlyList<string> Dropped) TargetFlags(FolderStatus targetStatus)
    {
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        var dropped = new List<string>();
        foreach (var flag in settings.TargetFlags)
        {
            if (flag.StartsWith('\\'))
            {
                flags |= Enum.Parse<MessageFlags>(flag[1..], ignoreCase: true);
            }
            else if (targetStatus.AcceptsAnyKeyword || targetStatus.PermanentKeywords.Contains(flag))
            {
                keywords.Add(flag);
            }
            else
            {
                dropped.Add(flag);
            }
        }

        return (flags & FlagText.Settable, keywords, dropped);
    }

    private void RecordFailure(MessageRecord record, string? messageId, string reason, FolderResult folderResult, JobResult result)
    {
        folderResult.Failed++;
        result.Failures.Add(new MessageFailure(SourceFolder, record.SourceUid, messageId, record.SourceSize, reason) { SourceKey = record.SourceKey });
        log.Warning("{Job}: POP3 message {Key} not copied: {Reason}", job, record.SourceKey, reason);
    }

    private void Warn(JobResult result, string warning)
    {
        log.Warning("{Job}: {Warning}", job, warning);
        result.Warnings.Add(warning);
    }

    private static MessageRecord NewRecord(
        uint id, Pop3Listing message, MessageState state, long dateUnix, long targetSize, ArrivalDateSource? dateSource, uint uidNextBefore, string? error)
        => new(id, null, state, null, dateUnix, message.Size, targetSize, string.Empty, string.Empty, uidNextBefore, 0, error)
        {
            SourceKey = message.Key,
            DateSource = dateSource?.ToString(),
        };
}
