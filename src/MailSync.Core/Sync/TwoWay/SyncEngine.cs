using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Polly;
using Serilog;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>
/// Two-way sync of two IMAP accounts, side-indexed: every step is written once for a side and
/// run for A and for B. A run lists both accounts, pairs the folders (creating on one side what
/// the other gained, deleting what one side deleted once it is empty on the other), skips
/// unopened every pair whose LIST-STATUS says nothing changed on either side, lists the others
/// (flags changed since the recorded HIGHESTMODSEQ and the UIDs present, or every flag without
/// CONDSTORE; summaries only of new messages), settles what an interrupted run left in flight,
/// plans each pair (<see cref="SyncPlanner"/>), finds moves across pairs, applies the deletion
/// guard, then acts. Every write follows the ledger's discipline: the intent is committed first,
/// the outcome after, and an ambiguous failure leaves the intent for the next run to settle by
/// looking. One connection per side.
/// </summary>
public sealed partial class SyncEngine
{
    private readonly string _job;
    private readonly Sides<ISyncSide> _sides;
    private readonly CheckpointLedger _ledger;
    private readonly MigrationOptions _options;
    private readonly SyncPolicy _policy;
    private readonly JobResult _result;
    private readonly Sides<AccountPipelines> _pipelines;
    private readonly Sides<StoreRetry> _retry;
    private readonly IMigrationObserver _observer;
    private readonly ILogger _log;

    public SyncEngine(
        string job, ISyncSide a, ISyncSide b, CheckpointLedger ledger, MigrationOptions options, SyncPolicy policy, JobResult result,
        AccountPipelines pipelinesA, AccountPipelines pipelinesB, IMigrationObserver observer, ILogger log)
    {
        _job = job;
        _sides = new(a, b);
        _ledger = ledger;
        _options = options;
        _policy = policy;
        _result = result;
        _pipelines = new(pipelinesA, pipelinesB);
        _retry = new(StoreRetry.For(a, $"{job}: side A", pipelinesA, result, log), StoreRetry.For(b, $"{job}: side B", pipelinesB, result, log));
        _observer = observer is SynchronizedObserver ? observer : new SynchronizedObserver(observer);
        _log = log;
    }

    /// <summary>One-way jobs: how many connection pairs may work at once (migrate's <c>maxConnections</c>, the smaller of the two accounts').</summary>
    public int MaxConnectionPairs { get; init; } = 1;

    /// <summary>One-way jobs: opens one more connection to each side for another worker; null keeps one pair.</summary>
    public Func<CancellationToken, Task<(ISyncSide A, ISyncSide B)>>? OpenConnectionPairAsync { get; init; }

    private static readonly Side[] Both = [Side.A, Side.B];

    /// <summary>One folder pair in this run: its ledger pair, both sides' listing, the plan and the report row.</summary>
    private sealed class Work(SyncFolder folder, SyncPairState pair, FolderResult report)
    {
        public SyncFolder Folder { get; } = folder;
        public SyncPairState Pair { get; } = pair;
        public FolderResult Report { get; } = report;
        public SyncCounts Counts => Report.Sync!;
        public Sides<FolderStatus>? Status { get; set; }
        public Sides<SideView>? Views { get; set; }
        public List<SyncRow> Rows { get; set; } = [];
        public PairPlan? Plan { get; set; }

        /// <summary>--retry-failed on a one-way job: the failed rows being tried again, by the read side's UID.</summary>
        public Dictionary<uint, SyncRow> Retrying { get; } = [];

        /// <summary>Both folders are still selected from the listing (one-way runs act on a pair right after listing it).</summary>
        public bool Selected { get; set; }

        /// <summary>UIDs of the written side's folder that other jobs filling it recorded (one-way only).</summary>
        public HashSet<uint> OthersClaim { get; set; } = [];

        /// <summary>Something of this pair is left for the next run (held deletions, an unsettled move, a failure): its cursors are not advanced.</summary>
        public bool Incomplete { get; set; }
    }

    public async Task RunAsync(FolderMappingOptions mapping, CancellationToken cancellationToken)
    {
        // Schema v4 carried migrate's rows forward; only a job switched between modes can have some left.
        foreach (var left in _ledger.MigrateRowsLeft(_job))
            _result.Warn(_log, _job, $"{left}: rows of an earlier migrate run of this job stay in the old layout (the folder was synced in another mode since); its copies are found again by content, none copied twice");

        ForgetOtherPolicysPairs();
        var listed = await ListAsync(reportSkipped: true, cancellationToken).ConfigureAwait(false);
        _listed = listed;
        foreach (var side in Both)
        {
            // One-way: a read side without a personal namespace is an empty source, as in migrate.
            if (!_sides[side].Namespace.Personal && _policy.Writable[side])
                throw new StoreFailureException(new FailureClassification(FailureKind.Account,
                    $"{_job}: side {side} has no personal namespace (the server answers NAMESPACE NIL): it holds no mailbox, so nothing can be synced with it"));
        }

        var namespaces = new Sides<NamespaceInfo>(_sides.A.Namespace, _sides.B.Namespace);
        // One rename at a time, each on fresh listings: a RENAME moves a whole subtree, and a
        // listing taken before it would show the folder it renamed as renamed back.
        for (var renames = 0; !_options.DryRun && !_policy.OneWay && renames < 1000 && await RenameFoldersAsync(listed, namespaces, mapping, cancellationToken).ConfigureAwait(false); renames++)
        {
            listed = await ListAsync(reportSkipped: false, cancellationToken).ConfigureAwait(false);
            _listed = listed;
        }

        var (folders, warnings) = SyncFolders.Decide(listed, namespaces, mapping, OwnPairs(), mergeIntoB: _policy.OneWay && _policy.Writable.B);
        foreach (var warning in warnings)
            _result.Warn(_log, _job, warning);
        var names = new Sides<HashSet<string>>(
            listed.A.Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal),
            listed.B.Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal));

        var work = new List<Work>();
        foreach (var folder in folders)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // One-way: a folder the read-only side lacks (only the written side has it, or the
            // read-only side deleted it) is left alone; a folder the written side lacks is created
            // there, even when an earlier run had synced it (the user deleted it there).
            if (_policy.OneWay && Both.Any(s => !_policy.Writable[s] && folder.Info(s) is null))
                continue;
            var report = new FolderResult { SourceFolder = folder.NameA, TargetFolder = folder.NameB, Sync = new SyncCounts() };
            if (folder.Pair is { } known && _renamed.TryGetValue(known.Id, out var rename))
                report.Sync.FolderChange = rename;
            if (_policy.OneWay && _options.RetryFailed && (folder.Pair is not { } retried || _ledger.CountSyncRowsFailed(retried.Id) == 0))
            {
                // --retry-failed (migrate's semantics): a pair without a failed row is not even opened.
                report.NothingToRetry = true;
                lock (_result)
                    _result.Folders.Add(report);
                _observer.FolderFinished(_job, report);
                continue;
            }

            try
            {
                if (await PrepareFolderAsync(folder, names, report, cancellationToken).ConfigureAwait(false) is { } pair)
                {
                    lock (_result)
                        _result.Folders.Add(report);
                    if (IsUnchanged(folder, pair, report))
                        _observer.FolderFinished(_job, report);
                    else
                        work.Add(new Work(folder, pair, report));
                }
                else if (report.Sync!.FolderChange is not null || report.Error is not null)
                {
                    lock (_result)
                        _result.Folders.Add(report);
                }
            }
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message)
            {
                lock (_result)
                    _result.Folders.Add(report);
                _result.SkipFolder(_log, _job, report, "<->", ex);
            }
        }

        if (_policy.OneWay)
        {
            await OneWayAsync(work, cancellationToken).ConfigureAwait(false);
            return;
        }

        // List every changed pair first: a move shows as a message gone from one pair and new in another.
        foreach (var item in work.ToList())
        {
            try
            {
                await ListPairAsync(item, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message)
            {
                _result.SkipFolder(_log, _job, item.Report, "<->", ex);
                work.Remove(item);
            }
        }

        // One-way: a message moved on the read side is copied into its new folder, the old copy stays (migrate's behaviour).
        var moves = _policy.OneWay ? [] : SyncPlanner.FindMoves([.. work.Select(w => w.Plan!)]);
        foreach (var item in work)
        {
            SyncPlanner.ApplyGuard(item.Plan!, item.Views!.Value, _policy, item.Folder.Path);
            foreach (var side in Both)
            {
                if (item.Plan!.Held[side] is { } held)
                {
                    item.Counts.Held(side, held.Count);
                    item.Counts.HeldReason = $"{held.Reason}; held, confirm with --allow-deletions \"{item.Folder.Name(side)}\" (or all)";
                    item.Incomplete = true;
                    _result.Warn(_log, _job, $"{item.Folder.NameA} <-> {item.Folder.NameB}: deletions held: {item.Counts.HeldReason}");
                }
            }
        }

        if (_options.DryRun)
        {
            foreach (var item in work)
                CountDryRun(item, moves);
            AsMigrateReport();
            return;
        }

        var byPlan = work.ToDictionary(w => w.Plan!);
        await MoveAsync(moves, byPlan, cancellationToken).ConfigureAwait(false);
        foreach (var item in work)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await ExecuteAsync(item, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder)
            {
                _result.SkipFolder(_log, _job, item.Report, "<->", ex);
            }

            _observer.FolderFinished(_job, item.Report);
        }

        AsMigrateReport();
    }

    /// <summary>
    /// Both accounts' folders, without those whose names cannot be carried faithfully
    /// (<see cref="FolderNameCheck"/>): each of those is reported once, by name and reason, as a
    /// skipped folder of the side that may be read (a one-way job's written side only keeps them
    /// out of its way), and never created, renamed or deleted anywhere.
    /// </summary>
    private async Task<Sides<IReadOnlyList<FolderInfo>>> ListAsync(bool reportSkipped, CancellationToken cancellationToken)
    {
        var lists = new IReadOnlyList<FolderInfo>[2];
        foreach (var side in Both)
        {
            var all = await ReadAsync(side, "list folders", ct => _sides[side].ListFoldersAsync(ct), cancellationToken).ConfigureAwait(false);
            var kept = new List<FolderInfo>(all.Count);
            var where = _policy.OneWay ? "on the source" : $"on side {side}";
            foreach (var folder in all)
            {
                // Only the sides the job reads report: a one-way job's written side only keeps them out of its way.
                var reports = reportSkipped && !(_policy.OneWay && _policy.Writable[side]);
                if (FolderNameCheck.Problem(folder, _sides[side].Namespace) is not { } problem)
                {
                    kept.Add(folder);
                    if (reports && folder.ListedAs is { } listed)
                        _result.Warn(_log, _job, $"\"{ServerText.Escape(listed)}\" {where} is no proper IMAP name (raw 8-bit bytes, or broken modified UTF-7); carried as \"{ServerText.Escape(folder.FullName)}\" (renamed)");
                    continue;
                }

                if (!reports)
                    continue;
                var name = ServerText.Escape(folder.FullName)!;
                var report = new FolderResult
                {
                    SourceFolder = side == Side.A ? name : string.Empty,
                    TargetFolder = side == Side.B ? name : string.Empty,
                    Sync = _policy.OneWay ? null : new SyncCounts(),
                };
                lock (_result)
                    _result.Folders.Add(report);
                _result.SkipFolder(_log, _job, report, _policy.OneWay ? "->" : "<->", $"\"{name}\" {where} is not carried: {problem}");
            }

            lists[(int)side] = kept;
        }

        return new(lists[0], lists[1]);
    }

    /// <summary>
    /// The job's folder pairs this policy wrote. A pair another policy wrote (the job's mode was
    /// changed, migrate to sync or back) is forgotten, not read as this policy's history, and its
    /// folders are paired again by content: nothing is copied twice, and nothing migrate let go
    /// is taken for expunged. A dry run only leaves it out.
    /// </summary>
    /// <summary>The job's pairs written by this policy (a dry run leaves the others in the ledger).</summary>
    private List<SyncPairState> OwnPairs() => [.. _ledger.LoadSyncPairs(_job).Where(p => p.Mode == _policy.Name)];

    private void ForgetOtherPolicysPairs()
    {
        var pairs = _ledger.LoadSyncPairs(_job);
        var other = pairs.Where(p => p.Mode != _policy.Name).ToList();
        if (other.Count > 0)
        {
            _result.Warn(_log, _job, $"{other.Count} folder pair(s) were last run as a {other[0].Mode} job, now as a {_policy.Name} job: their folders are paired again by content, nothing is copied twice or deleted for it");
            if (!_options.DryRun)
            {
                foreach (var pair in other)
                    _ledger.DeleteSyncPair(pair.Id);
            }
        }
    }

    /// <summary>
    /// One-way: no move is looked for across pairs and no deletion guarded, so each pair is listed
    /// and acted on in turn, and each folder selected once per side (migrate's round trips).
    /// </summary>
    private async Task OneWayAsync(List<Work> work, CancellationToken cancellationToken)
    {
        // Migrate's scheduler: up to MaxConnectionPairs workers, biggest folders first, each worker
        // on a connection pair of its own (the first on the job's); a pair that cannot be opened
        // only means fewer workers; a failure that stops the job stops every worker.
        // Pairs filling one folder (several folders merged into it) go to one worker, one after
        // the other: each settles its APPENDs in doubt by looking at that folder, and must not
        // see another's copy land before it is recorded.
        var read = _policy.Writable.A ? Side.B : Side.A;
        var write = read.Other();
        var groups = work.GroupBy(w => w.Pair.Name(write), StringComparer.Ordinal).Select(g => g.ToList()).ToList();
        var queue = new Queue<List<Work>>(groups.OrderByDescending(g => g.Sum(w => (long)(w.Folder.Info(read)?.Counters?.Count ?? 0))));
        var workers = OpenConnectionPairAsync is null ? 1 : Math.Clamp(Math.Min(Math.Min(MaxConnectionPairs, groups.Count), PairsWorthOpening(work, read)), 1, 32);
        await ConnectionWorkers.RunAsync(
            workers,
            async (index, opened, ct) => index == 0 ? this : await OpenWorkerAsync(index, opened, ct).ConfigureAwait(false),
            (engine, ct) => engine.DrainAsync(queue, ct),
            cancellationToken).ConfigureAwait(false);

        AsMigrateReport();
    }

    /// <summary>
    /// Two logins cost about as much as copying a few dozen messages, so a run with little to do
    /// stays on one pair: the estimate is the read side's messages past the recorded UIDNEXT (all
    /// of them for a pair never completed); without STATUS every folder counts as big.
    /// </summary>
    private int PairsWorthOpening(List<Work> work, Side read)
    {
        long estimate = 0;
        foreach (var item in work)
        {
            if (item.Folder.Info(read)?.Counters is not { } counters)
                return int.MaxValue;
            var cursor = item.Pair.Cursor(read);
            estimate += item.Pair.CompletedUtc is null || cursor.UidValidity != counters.UidValidity
                ? counters.Count
                : Math.Max(0, (long)counters.UidNext - cursor.UidNext);
        }

        return (int)Math.Min(int.MaxValue, 1 + (estimate / Math.Max(1, _options.MessagesPerConnectionPair)));
    }

    private async Task<SyncEngine?> OpenWorkerAsync(int index, List<IAsyncDisposable> opened, CancellationToken cancellationToken)
    {
        try
        {
            var (a, b) = await OpenConnectionPairAsync!(cancellationToken).ConfigureAwait(false);
            lock (opened)
            {
                opened.Add(a);
                opened.Add(b);
            }

            return new SyncEngine(_job, a, b, _ledger, _options, _policy, _result, _pipelines.A, _pipelines.B, _observer, _log);
        }
        catch (Exception ex) when (ex is StoreFailureException or StoreConnectException or ServerBusyException)
        {
            _log.Warning("{Job}: connection pair {Index} could not be opened ({Reason}); going on with fewer", _job, index + 1, ex.Message);
            return null;
        }
    }

    /// <summary>One worker: takes groups of pairs off the queue, lists each pair and acts on it right away.</summary>
    private async Task DrainAsync(Queue<List<Work>> queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            List<Work> group;
            lock (queue)
            {
                if (!queue.TryDequeue(out group!))
                    return;
            }

            foreach (var item in group)
                await OneWayPairAsync(item, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OneWayPairAsync(Work item, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await ListPairAsync(item, cancellationToken).ConfigureAwait(false);
            if (_options.DryRun)
            {
                // As migrate's dry run: the observer hears what would be copied.
                CountDryRun(item, []);
                _observer.FolderStarted(_job, item.Pair.NameA, item.Pair.NameB, item.Plan!.Append.B.Count, item.Plan.Append.B.Sum(m => m.Size));
            }
            else
            {
                item.Selected = true;
                await ExecuteAsync(item, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message)
        {
            _result.SkipFolder(_log, _job, item.Report, "->", ex);
        }

        _observer.FolderFinished(_job, item.Report);
    }

    /// <summary>One-way (migrate on this engine): the folders are reported as migrate reports them, without the two-way counts.</summary>
    private void AsMigrateReport()
    {
        if (!_policy.OneWay)
            return;
        lock (_result)
        {
            foreach (var folder in _result.Folders)
                folder.Sync = null;
        }
    }

    // ---- plumbing ----------------------------------------------------------------------------

    private void ReportFailure(Work item, SyncRow row, string reason, Side? origin = null)
    {
        var from = origin ?? row.Toward?.Other() ?? Side.A;
        item.Report.Failed++;
        lock (_result)
            _result.Failures.Add(new MessageFailure(item.Pair.Name(from), row.Uid(from) ?? 0, row.MessageId, row.Size(from),
                _policy.OneWay || reason.Contains($"side {from.Other()}", StringComparison.Ordinal) ? reason : $"side {from.Other()}: {reason}"));
        _log.Warning("{Job}: {Folder} on side {Side} UID {Uid} not copied: {Reason}", _job, item.Pair.Name(from), from, row.Uid(from), reason);
    }

    private Task<T> ReadAsync<T>(Side side, string operation, Func<CancellationToken, Task<T>> command, CancellationToken cancellationToken)
        => _retry[side].RunAsync(_pipelines[side].Read, operation, command, cancellationToken);

    /// <summary>An idempotent write (CREATE, STORE of absolute additions/removals, UID EXPUNGE): retried as it is.</summary>
    private Task StoreAsync(Side side, string operation, Func<CancellationToken, Task> command, CancellationToken cancellationToken)
        => _retry[side].RunAsync(_pipelines[side].Store, operation, command, cancellationToken);

    /// <summary>A write that must not be sent twice blindly (APPEND, MOVE): reconnects first if needed, then one attempt; its intent settles any doubt.</summary>
    private Task<T> OnceAsync<T>(Side side, string operation, Func<CancellationToken, Task<T>> command, CancellationToken cancellationToken)
        => _retry[side].RunAsync(ResiliencePipeline.Empty, operation, command, cancellationToken);


}
