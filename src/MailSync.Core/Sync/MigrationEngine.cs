using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// Copies every mapped folder of a source into a target, one-way. Lists and maps the folders,
/// creates what the target lacks, skips unopened every folder whose STATUS says nothing changed
/// since its last complete pass, and hands the rest to up to <see cref="MaxConnectionPairs"/>
/// <see cref="FolderCopier"/>s, each on its own source and target connection (MailKit's clients
/// run one command at a time, so parallelism means more connections; DESIGN.md §3).
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
    private readonly IMigrationObserver _observer = new SynchronizedObserver(observer);

    /// <summary>Most connection pairs working at once (the smaller of the two accounts' maxConnections).</summary>
    public int MaxConnectionPairs { get; init; } = 1;

    /// <summary>
    /// Opens one more connected source and target for another worker; null means one pair only.
    /// A pair that cannot be opened (a server's connection limit, say) only means fewer workers.
    /// </summary>
    public Func<CancellationToken, Task<(IMessageSource Source, IMessageTarget Target)>>? OpenConnectionPairAsync { get; init; }

    public async Task RunAsync(FolderMappingOptions mapping, CancellationToken cancellationToken)
    {
        var primary = new FolderCopier(job, source, target, ledger, options, result, sourcePipelines, targetPipelines, _observer, log);
        var sourceRetry = StoreRetry.For(source, $"{job}: source", sourcePipelines, result, log);
        var targetRetry = StoreRetry.For(target, $"{job}: target", targetPipelines, result, log);
        var sourceFolders = await sourceRetry.RunAsync(sourcePipelines.Read, "list folders", source.ListFoldersAsync, cancellationToken).ConfigureAwait(false);
        var targetFolders = await targetRetry.RunAsync(targetPipelines.Store, "list folders", target.ListFoldersAsync, cancellationToken).ConfigureAwait(false);
        var map = FolderMapper.Map(sourceFolders, source.Namespace, targetFolders, target.Namespace, mapping);
        foreach (var warning in map.Warnings)
            result.Warn(log, job, warning);

        foreach (var excluded in map.Excluded)
            log.Debug("{Job}: folder {Folder} skipped: {Reason}", job, excluded.SourcePath, excluded.Reason);

        var writer = new TargetWriter(job, target, ledger, options, targetRetry, targetPipelines, log);
        var unusable = options.DryRun
            ? []
            : await writer.EnsureFoldersAsync(map, targetFolders, cancellationToken).ConfigureAwait(false);

        var targetsByName = targetFolders.ToDictionary(f => f.FullName, StringComparer.Ordinal);
        var existingTargets = targetFolders.Select(f => f.FullName).Append("INBOX").ToHashSet(StringComparer.Ordinal);
        var work = new List<FolderWork>();
        foreach (var folder in map.Mappings.Where(m => m.Source.Selectable))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var folderResult = new FolderResult { SourceFolder = folder.Source.FullName, TargetFolder = folder.TargetName };
            result.Folders.Add(folderResult);
            if (unusable.TryGetValue(folder.TargetName, out var why))
            {
                result.SkipFolder(log, job, folderResult, "->", why);
                continue;
            }

            // Read once: both the unchanged test and the estimate of work to share out need it.
            var pair = folder.Source.Counters is null ? null : ledger.FindPair(job, folder.Source.FullName, folder.TargetName);
            if (IsUnchanged(folder, pair, targetsByName.GetValueOrDefault(folder.TargetName), folderResult))
            {
                _observer.FolderStarted(job, folder.Source.FullName, folder.TargetName, 0, 0);
                _observer.FolderFinished(job, folderResult);
                continue;
            }

            work.Add(new FolderWork(folder, pair, existingTargets.Contains(folder.TargetName), folderResult));
        }

        await CopyAllAsync(primary, work, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The folder's listed STATUS matches the ledger's cursors from its last complete pass
    /// (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ on both sides; a server without CONDSTORE never
    /// qualifies) and no intent is pending: nothing
    /// arrived and no flag changed, so the folder is not even selected. Costs no round trip and
    /// does not grow with the number of messages.
    /// </summary>
    private bool IsUnchanged(FolderMapping folder, FolderPairState? pair, FolderInfo? targetFolder, FolderResult folderResult)
    {
        if (options.RetryFailed || folder.Source.Counters is not { } counters)
            return false;
        // Without CONDSTORE nothing says whether a flag changed: such a folder is always opened.
        if (pair?.CompletedUtc is null || counters.UidValidity != pair.SourceUidValidity || counters.UidNext != pair.SourceUidNext
            || counters.HighestModSeq is not { } modSeq || modSeq != pair.SourceHighestModSeq)
            return false;
        // The target folder must still be the one the ledger paired with (not deleted and recreated).
        if (targetFolder?.Counters is not { } targetCounters || targetCounters.UidValidity != pair.TargetUidValidity)
            return false;
        var (copied, pending, failed) = ledger.Tally(pair.Id);
        if (pending > 0)
            return false;

        folderResult.Unchanged = true;
        folderResult.SourceMessages = counters.Count;
        folderResult.AlreadyCopied = copied;
        folderResult.Failed = failed.Count;
        lock (result)
            result.Failures.AddRange(failed.Select(row => MessageFailure.FromEarlierRun(folder.Source.FullName, row)));
        return true;
    }

    /// <summary>
    /// Runs the folders on up to <see cref="MaxConnectionPairs"/> connection pairs, biggest first so
    /// the longest folder does not start last. The first worker uses the job's own connections;
    /// the others open theirs as they start. A failure that stops the job (an account error,
    /// retries spent) stops every worker; what was in flight stays pending for the next run.
    /// </summary>
    private async Task CopyAllAsync(FolderCopier primary, List<FolderWork> work, CancellationToken cancellationToken)
    {
        var queue = new Queue<FolderWork>(work.OrderByDescending(w => w.Folder.Source.Counters?.Count ?? 0));
        var workers = OpenConnectionPairAsync is null ? 1 : Math.Clamp(Math.Min(Math.Min(MaxConnectionPairs, work.Count), PairsWorthOpening(work)), 1, 32);
        await ConnectionWorkers.RunAsync(
            workers,
            async (index, opened, ct) => index == 0 ? primary : await OpenCopierAsync(index, opened, ct).ConfigureAwait(false),
            (copier, ct) => DrainAsync(copier, queue, ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Two logins cost about as much as copying a few dozen messages, so a run with little to do
    /// (<see cref="MigrationOptions.MessagesPerConnectionPair"/> per pair)
    /// (a nightly run, a few new messages) stays on one pair. The estimate comes from the listed
    /// STATUS: messages past the recorded UIDNEXT, or all of them for a folder never completed;
    /// without STATUS every folder counts as big.
    /// </summary>
    private int PairsWorthOpening(List<FolderWork> work)
    {
        long estimate = 0;
        foreach (var item in work)
        {
            if (item.Folder.Source.Counters is not { } counters)
                return int.MaxValue;
            estimate += item.Pair?.CompletedUtc is null || item.Pair.SourceUidValidity != counters.UidValidity
                ? counters.Count
                : Math.Max(0, (long)counters.UidNext - item.Pair.SourceUidNext);
        }

        return (int)Math.Min(int.MaxValue, 1 + (estimate / Math.Max(1, options.MessagesPerConnectionPair)));
    }

    private async Task<FolderCopier?> OpenCopierAsync(int index, List<IAsyncDisposable> opened, CancellationToken cancellationToken)
    {
        try
        {
            var (extraSource, extraTarget) = await OpenConnectionPairAsync!(cancellationToken).ConfigureAwait(false);
            lock (opened)
            {
                opened.Add(extraSource);
                opened.Add(extraTarget);
            }

            return new FolderCopier(job, extraSource, extraTarget, ledger, options, result, sourcePipelines, targetPipelines, _observer, log);
        }
        catch (Exception ex) when (ex is StoreFailureException or StoreConnectException)
        {
            log.Warning("{Job}: connection pair {Index} could not be opened ({Reason}); going on with fewer", job, index + 1, ex.Message);
            return null;
        }
    }

    private async Task DrainAsync(FolderCopier copier, Queue<FolderWork> queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            FolderWork item;
            lock (queue)
            {
                if (!queue.TryDequeue(out item!))
                    return;
            }

            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await copier.CopyFolderAsync(item.Folder, item.TargetExists, item.Result, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind == FailureKind.Folder)
            {
                // One folder cannot be read or written ([NOPERM], gone, UIDVALIDITY changed under
                // us): whatever is pending stays in the ledger for the next run; the others go on.
                result.SkipFolder(log, job, item.Result, "->", ex.Message);
            }

            _observer.FolderFinished(job, item.Result);
        }
    }



    /// <param name="Pair">The ledger's pair as listed before copying (null: never recorded, or no STATUS to compare).</param>
    private sealed record FolderWork(FolderMapping Folder, FolderPairState? Pair, bool TargetExists, FolderResult Result);
}
