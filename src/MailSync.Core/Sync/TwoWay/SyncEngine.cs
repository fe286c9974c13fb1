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
public sealed class SyncEngine
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
        _observer = observer;
        _log = log;
    }

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

        /// <summary>Something of this pair is left for the next run (held deletions, an unsettled move, a failure): its cursors are not advanced.</summary>
        public bool Incomplete { get; set; }
    }

    public async Task RunAsync(FolderMappingOptions mapping, CancellationToken cancellationToken)
    {
        var listed = new Sides<IReadOnlyList<FolderInfo>>(
            await ReadAsync(Side.A, "list folders", ct => _sides.A.ListFoldersAsync(ct), cancellationToken).ConfigureAwait(false),
            await ReadAsync(Side.B, "list folders", ct => _sides.B.ListFoldersAsync(ct), cancellationToken).ConfigureAwait(false));
        _listed = listed;
        foreach (var side in Both)
        {
            if (!_sides[side].Namespace.Personal)
                throw new StoreFailureException(new FailureClassification(FailureKind.Account,
                    $"{_job}: side {side} has no personal namespace (the server answers NAMESPACE NIL): it holds no mailbox, so nothing can be synced with it"));
        }

        var (folders, warnings) = SyncFolders.Decide(listed, new(_sides.A.Namespace, _sides.B.Namespace), mapping, _ledger.LoadSyncPairs(_job));
        foreach (var warning in warnings)
            Warn(warning);
        var names = new Sides<HashSet<string>>(
            listed.A.Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal),
            listed.B.Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal));

        var work = new List<Work>();
        foreach (var folder in folders)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var report = new FolderResult { SourceFolder = folder.NameA, TargetFolder = folder.NameB, Sync = new SyncCounts() };
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
                SkipFolder(report, ex.Message);
            }
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
                SkipFolder(item.Report, ex.Message);
                work.Remove(item);
            }
        }

        var moves = SyncPlanner.FindMoves([.. work.Select(w => w.Plan!)]);
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
                    Warn($"{item.Folder.NameA} <-> {item.Folder.NameB}: deletions held: {item.Counts.HeldReason}");
                }
            }
        }

        if (_options.DryRun)
        {
            foreach (var item in work)
                CountDryRun(item, moves);
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
                SkipFolder(item.Report, ex.Message);
            }

            _observer.FolderFinished(_job, item.Report);
        }
    }

    // ---- folders -------------------------------------------------------------------------

    /// <summary>
    /// Settles the folder itself: creates it on the side that lacks it, or, when the ledger knew
    /// the pair and one side deleted the folder, deletes it on the other side once it holds nothing
    /// there (held by the guard otherwise). Returns the pair to sync, or null.
    /// </summary>
    private async Task<SyncPairState?> PrepareFolderAsync(SyncFolder folder, Sides<HashSet<string>> names, FolderResult report, CancellationToken cancellationToken)
    {
        var counts = report.Sync!;
        if (folder.A is null && folder.B is null)
        {
            if (!_options.DryRun)
                _ledger.DeleteSyncPair(folder.Pair!.Id);
            counts.FolderChange = "gone from both sides; forgotten";
            return null;
        }

        if (folder.Missing is { } missing)
        {
            var other = missing.Other();
            if (folder.Pair?.CompletedUtc is not null)
                return await GoneAsync(folder, missing, names, report, cancellationToken).ConfigureAwait(false);

            counts.FolderChange = $"created on {missing}";
            _log.Information("{Job}: creating folder {Folder} on side {Side} ({Other} has it)", _job, folder.Name(missing), missing, other);
            if (_options.DryRun)
                return null;
            await EnsureFolderAsync(missing, folder.Name(missing), folder.Info(other)!.Subscribed || folder.Subscribe, folder.Role, names, cancellationToken).ConfigureAwait(false);
        }
        else if (!_options.DryRun)
        {
            // Subscriptions follow: a folder subscribed on one side is subscribed on the other.
            foreach (var side in Both)
            {
                if (folder.Info(side.Other())!.Subscribed && !folder.Info(side)!.Subscribed)
                    await StoreAsync(side, $"subscribe {folder.Name(side)}", ct => _sides[side].EnsureFolderAsync(folder.Name(side), true, SpecialUse.None, ct), cancellationToken).ConfigureAwait(false);
            }
        }

        if (_options.DryRun && folder.Pair is null)
            return null;
        return folder.Pair ?? _ledger.CreateSyncPair(_job, folder.NameA, folder.NameB);
    }

    /// <summary>Creates a folder and any parent it lacks; <paramref name="names"/> are the side's existing folders.</summary>
    private async Task EnsureFolderAsync(Side side, string fullName, bool subscribe, SpecialUse role, Sides<HashSet<string>> names, CancellationToken cancellationToken)
    {
        var ns = _sides[side].Namespace;
        if (ns.Delimiter != '\0' && fullName.StartsWith(ns.Prefix, StringComparison.Ordinal))
        {
            var parts = fullName[ns.Prefix.Length..].Split(ns.Delimiter);
            for (var i = 1; i < parts.Length; i++)
            {
                var parent = ns.Prefix + string.Join(ns.Delimiter, parts[..i]);
                if (names[side].Contains(SyncFolders.Canonical(parent)))
                    continue;
                await StoreAsync(side, $"create {parent}", ct => _sides[side].EnsureFolderAsync(parent, false, SpecialUse.None, ct), cancellationToken).ConfigureAwait(false);
                names[side].Add(parent);
            }
        }

        await StoreAsync(side, $"create {fullName}", ct => _sides[side].EnsureFolderAsync(fullName, subscribe, role, ct), cancellationToken).ConfigureAwait(false);
        names[side].Add(SyncFolders.Canonical(fullName));
    }

    /// <summary>
    /// The folder was synced before and <paramref name="gone"/> no longer has it. Empty on the
    /// other side: deleted there too. Otherwise its messages would all go, which is what the guard
    /// is for: held, unless the user allowed deletions for it; then the copies of the messages
    /// the pair knew are expunged, the folder deleted if that emptied it, and anything new there
    /// since the last sync copied back into a re-created folder, so nothing is lost.
    /// </summary>
    private async Task<SyncPairState?> GoneAsync(SyncFolder folder, Side gone, Sides<HashSet<string>> names, FolderResult report, CancellationToken cancellationToken)
    {
        var counts = report.Sync!;
        var keep = gone.Other();
        var pair = folder.Pair!;
        var name = folder.Name(keep);
        var status = await ReadAsync(keep, $"select {name}", ct => _sides[keep].OpenFolderAsync(name, !_options.DryRun, ct), cancellationToken).ConfigureAwait(false);
        if (status.Count > 0 && !_policy.DeletionsAllowed(folder.NameA, folder.NameB, folder.Path))
        {
            counts.Held(keep, status.Count);
            counts.HeldReason = $"\"{folder.Name(gone)}\" was deleted on side {gone}, and \"{name}\" on side {keep} still holds {status.Count} message(s); held, confirm with --allow-deletions \"{name}\" (or all)";
            counts.FolderChange = $"deleted on {gone}; held on {keep}";
            Warn($"{folder.NameA} <-> {folder.NameB}: {counts.HeldReason}");
            return null;
        }

        if (_options.DryRun)
        {
            counts.FolderChange = $"deleted on {gone}; would be deleted on {keep}";
            return null;
        }

        if (status.Count > 0)
        {
            var rows = _ledger.LoadSyncRows(pair.Id);
            var present = (await ReadAsync(keep, $"list {name}", ct => _sides[keep].FetchUidsAsync(ct), cancellationToken).ConfigureAwait(false)).ToHashSet();
            var copies = rows.Where(r => r.Uid(keep) is { } uid && present.Contains(uid)).ToList();
            await ExpungeRowsAsync(keep, pair, name, copies, counts, cancellationToken).ConfigureAwait(false);
            _ledger.SaveSyncRows([], rows.Select(r => r.Id));
            status = await ReadAsync(keep, $"select {name}", ct => _sides[keep].OpenFolderAsync(name, true, ct), cancellationToken).ConfigureAwait(false);
            if (status.Count > 0)
            {
                // New there since the last sync: the folder comes back on the other side with them.
                pair.CompletedUtc = null;
                pair.CursorA = pair.CursorB = SyncCursor.None;
                _ledger.SaveSyncPair(pair);
                await EnsureFolderAsync(gone, folder.Name(gone), true, folder.Role, names, cancellationToken).ConfigureAwait(false);
                counts.FolderChange = $"deleted on {gone}; {status.Count} message(s) new on {keep} since the last sync kept, the folder re-created on {gone}";
                Warn($"{folder.NameA} <-> {folder.NameB}: {counts.FolderChange}");
                return pair;
            }
        }

        if (LogicalPath.IsInbox(name))
        {
            counts.FolderChange = $"INBOX cannot be deleted on {keep}";
            return null;
        }

        await StoreAsync(keep, $"delete {name}", ct => _sides[keep].DeleteFolderAsync(name, ct), cancellationToken).ConfigureAwait(false);
        _ledger.DeleteSyncPair(pair.Id);
        counts.FolderChange = $"deleted on {keep} (deleted on {gone})";
        _log.Information("{Job}: folder {Folder} deleted on side {Side}: it was deleted on side {Gone}", _job, name, keep, gone);
        return null;
    }

    /// <summary>
    /// Both sides' listed STATUS (LIST-STATUS) match the cursors of the pair's last complete run
    /// (UIDVALIDITY, UIDNEXT, message count, HIGHESTMODSEQ: a server without CONDSTORE never
    /// qualifies) and nothing is in flight: nothing arrived, went or changed, so neither folder is
    /// even selected. The cursors are those listed before the run's own writes, so a pair written
    /// to is opened once more by the next run, which then finds nothing to do.
    /// </summary>
    private bool IsUnchanged(SyncFolder folder, SyncPairState pair, FolderResult report)
    {
        if (_options.RetryFailed || pair.CompletedUtc is null)
            return false;
        foreach (var side in Both)
        {
            var cursor = pair.Cursor(side);
            if (folder.Info(side)?.Counters is not { HighestModSeq: { } modSeq } counters
                || counters.UidValidity != cursor.UidValidity || counters.UidNext != cursor.UidNext
                || counters.Count != cursor.Count || modSeq != cursor.HighestModSeq)
                return false;
        }

        if (_ledger.CountSyncRowsInFlight(pair.Id) > 0)
            return false;
        report.Unchanged = true;
        report.Sync!.MessagesA = pair.CursorA.Count;
        report.Sync.MessagesB = pair.CursorB.Count;
        report.SourceMessages = pair.CursorA.Count;
        return true;
    }

    // ---- listing and planning ---------------------------------------------------------------

    /// <summary>Opens both folders of a pair, lists what is needed, settles the rows in flight and plans the pair.</summary>
    private async Task ListPairAsync(Work item, CancellationToken cancellationToken)
    {
        var pair = item.Pair;
        var rows = _ledger.LoadSyncRows(pair.Id);
        var statuses = new FolderStatus[2];
        var views = new SideView[2];
        var validityChanged = new bool[2];
        foreach (var side in Both)
        {
            var name = pair.Name(side);
            var status = await ReadAsync(side, $"select {name}", ct => _sides[side].OpenFolderAsync(name, !_options.DryRun, ct), cancellationToken).ConfigureAwait(false);
            var cursor = pair.Cursor(side);
            validityChanged[(int)side] = cursor.UidValidity != 0 && cursor.UidValidity != status.UidValidity;
            statuses[(int)side] = status;
            views[(int)side] = await ListSideAsync(side, name, status, cursor, pair.CompletedUtc is not null && !validityChanged[(int)side], rows, cancellationToken).ConfigureAwait(false);
            if (validityChanged[(int)side])
                Warn($"{name} on side {side}: UIDVALIDITY changed ({cursor.UidValidity} -> {status.UidValidity}); its messages are paired again by content, none copied again");
        }

        var resolution = SyncPlanner.Resolve(rows, new(views[0], views[1]), new(validityChanged[0], validityChanged[1]), _options.RetryFailed);
        item.Counts.Reconciled += resolution.Reconciled;
        item.Report.Reconciled += resolution.Reconciled;
        if (!_options.DryRun && (resolution.Changed.Count > 0 || resolution.Forget.Count > 0))
        {
            // After a UIDVALIDITY change a row's new UID may be one another row still holds as its
            // old one, and the ledger's unique index on each side's UID is checked row by row: so in
            // the same transaction the renumbered side's UIDs are cleared first, then written.
            var renumbered = Both.Where(s => validityChanged[(int)s]).ToList();
            var cleared = renumbered.Count == 0
                ? []
                : resolution.Changed.Select(r => (pair.Id, renumbered.Aggregate(r, (row, s) => row.WithUid(s, null))));
            _ledger.SaveSyncRows(cleared.Concat(resolution.Changed.Select(r => (pair.Id, r))), resolution.Forget);
        }

        rows = resolution.Rows;

        // Messages a settled row no longer claims (an APPEND that never landed) are new again: their summaries are needed too.
        foreach (var side in Both)
        {
            var view = views[(int)side];
            var missing = SyncPlanner.Unclaimed(rows, view, side).Where(u => !view.Summaries.ContainsKey(u)).ToList();
            if (missing.Count == 0)
                continue;
            var more = await ReadAsync(side, $"list {missing.Count} messages in {pair.Name(side)}", ct => _sides[side].FetchSummariesAsync(missing, ct), cancellationToken).ConfigureAwait(false);
            views[(int)side] = view with { Summaries = Merge(view.Summaries, more) };
        }

        var hashes = SyncPlanner.HeaderHashesWanted(rows, new(views[0], views[1]));
        foreach (var side in Both)
        {
            var wanted = hashes[side];
            if (wanted.Count == 0)
                continue;
            // The other side's folder is selected now on its own connection; this side's was re-selected by nobody since.
            await ReadAsync(side, $"select {pair.Name(side)}", ct => _sides[side].OpenFolderAsync(pair.Name(side), !_options.DryRun, ct), cancellationToken).ConfigureAwait(false);
            var found = await ReadAsync(side, $"header blocks in {pair.Name(side)}", ct => _sides[side].FetchHeaderHashesAsync(wanted, ct), cancellationToken).ConfigureAwait(false);
            views[(int)side] = views[(int)side] with { HeaderHashes = found };
        }

        item.Status = new(statuses[0], statuses[1]);
        item.Views = new(views[0], views[1]);
        item.Rows = rows;
        item.Plan = SyncPlanner.Plan(new(pair.NameA, pair.NameB), rows, item.Views.Value);
        item.Counts.MessagesA = statuses[0].Count;
        item.Counts.MessagesB = statuses[1].Count;
        item.Report.SourceMessages = statuses[0].Count;
        foreach (var failed in item.Plan.EarlierFailures)
            ReportFailure(item, failed, $"{failed.LastError} (recorded by an earlier run)");
    }

    /// <summary>
    /// One side's listing. A first pass (or one after a UIDVALIDITY change) fetches every summary.
    /// After a complete pass: the flags changed since the recorded HIGHESTMODSEQ plus the UIDs
    /// present (CONDSTORE), or every message's flags (without it), and summaries only of the
    /// messages no row claims; no body or header of a known message is fetched.
    /// </summary>
    private async Task<SideView> ListSideAsync(
        Side side, string name, FolderStatus status, SyncCursor cursor, bool incremental, List<SyncRow> rows, CancellationToken cancellationToken)
    {
        var store = _sides[side];
        if (!incremental || cursor.UidValidity == 0)
        {
            var all = await ReadAsync(side, $"list {name}", ct => store.FetchSummariesAsync(1, ct), cancellationToken).ConfigureAwait(false);
            return new SideView(status.Count, all.Select(m => m.Uid).ToHashSet(), all.ToDictionary(m => m.Uid, SideView.FlagsOf), all.ToDictionary(m => m.Uid));
        }

        IReadOnlyList<FlagState> flags;
        HashSet<uint> present;
        if (status.HighestModSeq is not null && cursor.HighestModSeq != 0)
        {
            flags = status.HighestModSeq == cursor.HighestModSeq
                ? []
                : await ReadAsync(side, $"flag changes in {name}", ct => store.FetchFlagChangesAsync(cursor.HighestModSeq, ct), cancellationToken).ConfigureAwait(false);
            present = (await ReadAsync(side, $"UIDs in {name}", ct => store.FetchUidsAsync(ct), cancellationToken).ConfigureAwait(false)).ToHashSet();
        }
        else
        {
            flags = await ReadAsync(side, $"flags in {name}", ct => store.FetchAllFlagsAsync(ct), cancellationToken).ConfigureAwait(false);
            present = flags.Select(f => f.Uid).ToHashSet();
        }

        // A pending APPEND's origin is not claimed yet: if it never landed its message is new again.
        var claimed = rows.Where(r => r.State != SyncState.Pending && r.Uid(side) is not null).Select(r => r.Uid(side)!.Value).ToHashSet();
        var unknown = present.Where(u => !claimed.Contains(u)).Order().ToList();
        var summaries = unknown.Count == 0
            ? []
            : await ReadAsync(side, $"list {unknown.Count} new messages in {name}", ct => store.FetchSummariesAsync(unknown, ct), cancellationToken).ConfigureAwait(false);
        var now = flags.Where(f => present.Contains(f.Uid)).ToDictionary(f => f.Uid, f => FlagText.Format(f.Flags & FlagText.Settable, f.Keywords));
        foreach (var summary in summaries)
            now[summary.Uid] = SideView.FlagsOf(summary);
        return new SideView(status.Count, present, now, summaries.ToDictionary(m => m.Uid));
    }

    private static Dictionary<uint, MessageInfo> Merge(IReadOnlyDictionary<uint, MessageInfo> known, IEnumerable<MessageInfo> more)
    {
        var merged = known.ToDictionary(k => k.Key, k => k.Value);
        foreach (var m in more)
            merged[m.Uid] = m;
        return merged;
    }

    private static void CountDryRun(Work item, List<PlannedMove> moves)
    {
        var plan = item.Plan!;
        foreach (var side in Both)
        {
            item.Counts.Appended(side, plan.Append[side].Count + plan.Recopy[side].Count);
            item.Counts.FlagsChanged(side, plan.Store[side].Count);
            item.Counts.Deleted(side, plan.Expunge[side].Count);
            item.Counts.Moved(side, moves.Count(m => m.On == side && m.From == plan));
        }

        item.Counts.PairedByContent = plan.NewPairs.Count;
        item.Counts.Conflicts = plan.Recopy.A.Count + plan.Recopy.B.Count;
    }

    // ---- acting ------------------------------------------------------------------------------

    /// <summary>
    /// Moves on one side what the user moved on the other, grouped by folder pair: the intents
    /// (the row leaving marked Moving, a Pending row in the pair it goes to) are committed in one
    /// transaction before the MOVE; the outcome after. Without COPYUID the new copy is left for the
    /// next run to find by content, as after a crash. The flags each side changed meanwhile are
    /// merged by the destination pair's own pass.
    /// </summary>
    private async Task MoveAsync(List<PlannedMove> moves, Dictionary<PairPlan, Work> byPlan, CancellationToken cancellationToken)
    {
        foreach (var group in moves.GroupBy(m => (m.On, m.From, m.To)))
        {
            var (on, fromPlan, toPlan) = group.Key;
            var moved = on.Other();
            var from = byPlan[fromPlan];
            var to = byPlan[toPlan];
            var list = group.ToList();
            if (from == to)
            {
                // Expunged and appended again in the same folder on one side: the other side's copy stays; only the UID changes.
                _ledger.SaveSyncRows(list.Select(m => (from.Pair.Id, m.Row.WithUid(moved, m.Message.Uid))));
                foreach (var m in list)
                    AddFlagMerge(to, m.Row.WithUid(moved, m.Message.Uid), m, from);
                continue;
            }

            var source = from.Pair.Name(on);
            var destination = to.Pair.Name(on);
            var uidNext = to.Status!.Value[on].UidNext;
            var intents = new List<(long, SyncRow)>();
            foreach (var m in list)
            {
                intents.Add((from.Pair.Id, m.Row with { State = SyncState.Moving, Toward = on }));
                intents.Add((to.Pair.Id, new SyncRow(0, null, null, SyncState.Pending, on, m.Row.MessageId, m.Row.InternalDateUnix, 0, 0, m.Row.FlagsA, m.Row.FlagsB, uidNext)
                    .WithUid(moved, m.Message.Uid).WithSize(moved, m.Message.Size).WithSize(on, m.Row.Size(on))));
            }

            var saved = _ledger.SaveSyncRows(intents);
            var pending = saved.Where(r => r.State == SyncState.Pending).ToList();
            IReadOnlyList<uint?> uids;
            try
            {
                await ReadAsync(on, $"select {source}", ct => _sides[on].OpenFolderAsync(source, true, ct), cancellationToken).ConfigureAwait(false);
                uids = await OnceAsync(on, $"move {list.Count} messages from {source} to {destination}",
                    ct => _sides[on].MoveAsync([.. list.Select(m => m.Row.Uid(on)!.Value)], destination, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message)
            {
                Warn($"{source} -> {destination} on side {on}: {list.Count} message(s) not moved ({ex.Message}); the next run looks again");
                from.Incomplete = to.Incomplete = true;
                continue;
            }

            var outcome = new List<(long, SyncRow)>();
            var forget = new List<long>();
            for (var i = 0; i < list.Count; i++)
            {
                if (uids[i] is not { } uid)
                {
                    // No COPYUID: the next run finds the copy by content, as after a crash.
                    to.Incomplete = true;
                    continue;
                }

                var landed = pending[i].WithUid(on, uid) with { State = SyncState.Paired, Toward = null };
                outcome.Add((to.Pair.Id, landed));
                forget.Add(list[i].Row.Id);
                AddFlagMerge(to, landed, list[i], from);
            }

            _ledger.SaveSyncRows(outcome, forget);
            from.Counts.Moved(on, list.Count);
            _log.Information("{Job}: moved {Count} message(s) from {From} to {To} on side {Side}, as on side {Other}", _job, list.Count, source, destination, on, moved);
        }
    }

    /// <summary>A moved message's flags, merged three ways in its new pair's pass: last synced as the old row, now as each side has it.</summary>
    private static void AddFlagMerge(Work to, SyncRow row, PlannedMove move, Work from)
    {
        var on = move.On;
        var now = on == Side.A
            ? new Sides<string>(from.Views!.Value.A.FlagsOf(move.Row, Side.A), SideView.FlagsOf(move.Message))
            : new Sides<string>(SideView.FlagsOf(move.Message), from.Views!.Value.B.FlagsOf(move.Row, Side.B));
        var (change, after) = SyncPlanner.Merge(new Sides<string>(row.FlagsA, row.FlagsB), now);
        if (change.A.IsEmpty && change.B.IsEmpty && after.A == row.FlagsA && after.B == row.FlagsB)
            return;
        var updated = row with { FlagsA = after.A, FlagsB = after.B };
        to.Plan!.Updated.Add(updated);
        foreach (var side in Both)
        {
            if (!change[side].IsEmpty)
                to.Plan.Store[side].Add((updated, change[side]));
        }
    }

    /// <summary>Carries out one pair's plan: deletions, flag changes, conflicts' copies back, appends both ways; then the cursors.</summary>
    private async Task ExecuteAsync(Work item, CancellationToken cancellationToken)
    {
        var plan = item.Plan!;
        var pair = item.Pair;
        var counts = item.Counts;
        _observer.FolderStarted(_job, pair.NameA, pair.NameB, plan.Append.A.Count + plan.Append.B.Count,
            plan.Append.A.Sum(m => m.Size) + plan.Append.B.Sum(m => m.Size));
        if (plan.WritesNothing && plan.Forget.Count == 0 && plan.Updated.Count == 0 && plan.NewPairs.Count == 0)
        {
            FinishPair(item);
            return;
        }

        foreach (var side in Both)
            await ReadAsync(side, $"select {pair.Name(side)}", ct => _sides[side].OpenFolderAsync(pair.Name(side), true, ct), cancellationToken).ConfigureAwait(false);

        // Paired by content: recorded with nothing synced yet, so an interruption before the flag
        // stores below merges the same way again instead of reading the missing flags as removed.
        var newPairs = _ledger.SaveSyncRows(plan.NewPairs.Select(r => (pair.Id, r with { FlagsA = "", FlagsB = "" })));
        var ids = new Dictionary<SyncRow, long>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < newPairs.Count; i++)
            ids[plan.NewPairs[i]] = newPairs[i].Id;
        SyncRow WithId(SyncRow row) => row.Id == 0 && ids.TryGetValue(row, out var id) ? row with { Id = id } : row;
        counts.PairedByContent += plan.NewPairs.Count;
        item.Report.FoundOnTarget += plan.NewPairs.Count;

        // Forgotten rows and rows let go (deletions "keep") need no server.
        var letGo = plan.Updated.Where(r => r.UidA is null || r.UidB is null).ToList();
        _ledger.SaveSyncRows(letGo.Select(r => (pair.Id, r)), plan.Forget.Select(r => r.Id));

        foreach (var side in Both)
            await ExpungeRowsAsync(side, pair, pair.Name(side), plan.Expunge[side], counts, cancellationToken).ConfigureAwait(false);

        var keywords = new Sides<TargetKeywords>(
            new TargetKeywords(item.Status!.Value.A.PermanentKeywords, item.Status.Value.A.AcceptsAnyKeyword),
            new TargetKeywords(item.Status.Value.B.PermanentKeywords, item.Status.Value.B.AcceptsAnyKeyword));
        var updated = plan.Updated.Where(r => r.UidA is not null && r.UidB is not null).Concat(plan.NewPairs).Select(WithId).ToDictionary(r => r.Id);
        foreach (var side in Both)
            await StoreFlagsAsync(side, item, [.. plan.Store[side].Select(s => (WithId(s.Row), s.Change))], keywords[side], updated, cancellationToken).ConfigureAwait(false);
        _ledger.SaveSyncRows(updated.Values.Select(r => (pair.Id, r)));

        // Conflicts: the message expunged on one side had its flags changed on the other: kept, and copied back.
        foreach (var gone in Both)
        {
            var recopy = plan.Recopy[gone];
            if (recopy.Count == 0)
                continue;
            var keep = gone.Other();
            _ledger.SaveSyncRows([], recopy.Select(r => r.Id));
            var uids = recopy.Select(r => r.Uid(keep)!.Value).ToList();
            var summaries = await ReadAsync(keep, $"list {uids.Count} messages in {pair.Name(keep)}", ct => _sides[keep].FetchSummariesAsync(uids, ct), cancellationToken).ConfigureAwait(false);
            plan.Append[gone].AddRange(summaries);
            counts.Conflicts += recopy.Count;
            Warn($"{pair.NameA} <-> {pair.NameB}: {recopy.Count} message(s) deleted on side {gone} had their flags changed on side {keep} since the last sync: kept, and copied back to {gone}");
        }

        foreach (var to in Both)
        {
            if (plan.Append[to].Count > 0)
                await AppendAsync(item, to, plan.Append[to], keywords[to], cancellationToken).ConfigureAwait(false);
        }

        FinishPair(item);
    }

    /// <summary>Advances the pair's cursors to what was listed before this run's writes, unless something is left for the next run.</summary>
    private void FinishPair(Work item)
    {
        if (item.Incomplete || item.Report.Failed > 0)
            return;
        var pair = item.Pair;
        foreach (var side in Both)
        {
            var status = item.Status!.Value[side];
            pair.SetCursor(side, new SyncCursor(status.UidValidity, status.UidNext, status.HighestModSeq ?? 0, status.Count));
        }

        pair.CompletedUtc = DateTimeOffset.UtcNow;
        _ledger.SaveSyncPair(pair);
    }

    /// <summary>
    /// Expunges the copies on <paramref name="side"/> of these rows (the other side expunged its
    /// messages), or moves them into the side's \Trash folder with deletions "trash". The rows are
    /// marked Expunging first; an interrupted run's planner decides again from what is left.
    /// </summary>
    private async Task ExpungeRowsAsync(Side side, SyncPairState pair, string folder, List<SyncRow> rows, SyncCounts counts, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return;
        var store = _sides[side];
        if (!store.CanExpungeByUid)
        {
            counts.Held(side, rows.Count);
            counts.HeldReason = $"side {side} does not offer UIDPLUS, so its messages cannot be expunged one by one without also expunging what a user marked \\Deleted; {rows.Count} deletion(s) not made";
            Warn($"{folder}: {counts.HeldReason}");
            return;
        }

        _ledger.SaveSyncRows(rows.Select(r => (pair.Id, r with { State = SyncState.Expunging, Toward = side })));
        var uids = rows.Select(r => r.Uid(side)!.Value).ToList();
        if (_policy.Deletions == DeletionMode.Trash && TrashOf(side) is { } trash && !string.Equals(trash, folder, StringComparison.Ordinal))
            await OnceAsync(side, $"move {uids.Count} messages from {folder} to {trash}", ct => store.MoveAsync(uids, trash, ct), cancellationToken).ConfigureAwait(false);
        else
            await StoreAsync(side, $"expunge {uids.Count} messages in {folder}", ct => store.ExpungeAsync(uids, ct), cancellationToken).ConfigureAwait(false);
        _ledger.SaveSyncRows([], rows.Select(r => r.Id));
        counts.Deleted(side, rows.Count);
        _log.Information("{Job}: {Folder} on side {Side}: {Count} message(s) deleted, as on side {Other}", _job, folder, side, rows.Count, side.Other());
    }

    private Sides<IReadOnlyList<FolderInfo>> _listed = new([], []);

    /// <summary>The side's \Trash folder: the one with the special-use attribute, else one named so (see <see cref="FolderMapper.GuessRoleByName"/>); null when it has none.</summary>
    private string? TrashOf(Side side)
    {
        var folders = _listed[side];
        var ns = _sides[side].Namespace;
        return folders.FirstOrDefault(f => f.Role == SpecialUse.Trash)?.FullName
            ?? folders.FirstOrDefault(f => FolderMapper.GuessRoleByName(LogicalPath.Join(LogicalPath.Segments(f, ns))) == SpecialUse.Trash)?.FullName;
    }

    /// <summary>
    /// Flag changes on one side, one UID STORE per distinct change. Keywords the folder will not
    /// take are left off and named; the side's last-seen flags then lack them, so they are not
    /// asked for again and do not flip back on the other side.
    /// </summary>
    private async Task StoreFlagsAsync(
        Side side, Work item, List<(SyncRow Row, FlagChange Change)> stores, TargetKeywords keywords, Dictionary<long, SyncRow> updated, CancellationToken cancellationToken)
    {
        if (stores.Count == 0)
            return;
        var name = item.Pair.Name(side);
        var groups = new Dictionary<string, (FlagChange Change, List<uint> Uids, List<long> Ids)>(StringComparer.Ordinal);
        foreach (var (row, change) in stores)
        {
            var (send, dropped) = keywords.Filter(change.AddKeywords);
            var effective = change with { AddKeywords = send };
            if (dropped.Count > 0)
            {
                item.Report.NoteDroppedKeywords(dropped);
                var current = updated[row.Id];
                var (flags, kept) = FlagText.Parse(current.Flags(side));
                updated[row.Id] = current.WithFlags(side, FlagText.Format(flags, kept.Where(k => !dropped.Contains(k, StringComparer.OrdinalIgnoreCase))));
            }

            if (effective.IsEmpty)
                continue;
            var key = $"{effective.Add}|{string.Join(' ', effective.AddKeywords)}|{effective.Remove}|{string.Join(' ', effective.RemoveKeywords)}";
            if (!groups.TryGetValue(key, out var group))
                groups[key] = group = (effective, [], []);
            group.Uids.Add(row.Uid(side)!.Value);
        }

        foreach (var (change, uids, _) in groups.Values)
        {
            await StoreAsync(side, $"store flags on {uids.Count} messages in {name}", ct => _sides[side].StoreFlagsAsync(uids, change, ct), cancellationToken).ConfigureAwait(false);
            keywords.Held(change.AddKeywords);
            item.Counts.FlagsChanged(side, uids.Count);
            item.Report.FlagsUpdated += uids.Count;
        }
    }

    /// <summary>
    /// Appends the other side's messages to <paramref name="to"/>, in batches: the bytes exactly as
    /// served, the flags and date of the original. Each batch's intents (Pending rows with the
    /// UIDNEXT before) are committed before its APPEND; APPENDUID completes them, or a look at
    /// what arrived when the server does not say. A refusal is recorded by name; any other failure
    /// leaves the intents for the next run to settle.
    /// </summary>
    private async Task AppendAsync(Work item, Side to, List<MessageInfo> messages, TargetKeywords keywords, CancellationToken cancellationToken)
    {
        var from = to.Other();
        var pair = item.Pair;
        var target = _sides[to];
        var targetName = pair.Name(to);
        var uidNext = item.Status!.Value[to].UidNext;
        foreach (var batch in Batches.Of(messages, m => m.Size, _options.BatchMessages, _options.BatchBytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var spools = new Dictionary<uint, Stream>();
            try
            {
                var sizes = batch.ToDictionary(m => m.Uid, m => m.Size);
                await ReadAsync(from, $"fetch {batch.Count} messages from {pair.Name(from)}", async ct =>
                {
                    var missing = batch.Select(m => m.Uid).Where(u => !spools.ContainsKey(u)).ToList();
                    await _sides[from].ReadMessagesAsync(missing, missing.Sum(u => sizes[u]), async (uid, stream, token) =>
                        spools[uid] = await MessageSpool.TakeAsync(stream, sizes[uid], _options.SpoolToDiskAbove, token).ConfigureAwait(false), ct).ConfigureAwait(false);
                    return true;
                }, cancellationToken).ConfigureAwait(false);

                var items = new List<AppendItem>();
                var intents = new List<(long, SyncRow)>();
                var failures = new List<(long, SyncRow)>();
                foreach (var message in batch)
                {
                    var origin = new SyncRow(0, null, null, SyncState.Pending, to, message.MessageId, message.InternalDate.ToUnixTimeSeconds(), 0, 0, "", "", uidNext)
                        .WithUid(from, message.Uid).WithSize(from, message.Size).WithFlags(from, SideView.FlagsOf(message));
                    var failure = TargetWriter.Prepare(spools.GetValueOrDefault(message.Uid), target.TakesBinary, out var mime, out var binary, out var notCrlf);
                    if (failure is not null)
                    {
                        failures.Add((pair.Id, origin with { State = SyncState.Failed, LastError = failure, Attempts = 1 }));
                        ReportFailure(item, origin, failure, from);
                        continue;
                    }

                    var (send, dropped) = keywords.Filter(message.Keywords);
                    item.Report.NoteDroppedKeywords(dropped);
                    var length = spools[message.Uid].Length;
                    items.Add(new AppendItem(mime!, message.Flags & FlagText.Settable, send, message.InternalDate) { Size = length, Binary = binary, NotCrlf = notCrlf });
                    intents.Add((pair.Id, origin.WithSize(to, length).WithFlags(to, FlagText.Format(message.Flags & FlagText.Settable, send))));
                }

                // The journal entry comes first: if we die during the APPEND, the next run knows to look.
                var saved = _ledger.SaveSyncRows(intents.Concat(failures)).Take(intents.Count).ToList();
                if (items.Count == 0)
                    continue;
                var done = await AppendBatchAsync(item, to, items, saved, cancellationToken).ConfigureAwait(false);
                _ledger.SaveSyncRows(done.Select(r => (pair.Id, r)));
                var landed = done.Where(r => r.State == SyncState.Paired).ToList();
                item.Counts.Appended(to, landed.Count);
                item.Report.Copied += landed.Count;
                item.Report.CopiedBytes += landed.Sum(r => r.Size(to));
                lock (_result)
                    _result.Appended += landed.Count;
                keywords.Held(items.SelectMany(i => i.Keywords));
                _observer.MessagesCopied(_job, batch.Count, batch.Sum(m => m.Size));
                var highest = done.Select(r => r.Uid(to)).Where(u => u is not null).Select(u => u!.Value).DefaultIfEmpty(uidNext - 1).Max();
                uidNext = Math.Max(uidNext, highest + 1);
            }
            finally
            {
                foreach (var spool in spools.Values)
                    await spool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One batch's APPEND (MULTIAPPEND where offered). A refused batch goes again one by one to
    /// find the message the server will not take, which is recorded as failed; without APPENDUID
    /// the new UIDs are learnt by content. Any other failure propagates with the intents pending.
    /// </summary>
    private async Task<List<SyncRow>> AppendBatchAsync(Work item, Side to, List<AppendItem> items, List<SyncRow> intents, CancellationToken cancellationToken)
    {
        var target = _sides[to];
        var name = item.Pair.Name(to);
        var done = new List<SyncRow>();
        var steps = new List<List<int>> { Enumerable.Range(0, items.Count).ToList() };
        while (steps.Count > 0)
        {
            var step = steps[0];
            steps.RemoveAt(0);
            IReadOnlyList<uint?> uids;
            try
            {
                uids = await OnceAsync(to, $"append {step.Count} messages to {name}", ct => target.AppendAsync(name, [.. step.Select(i => items[i])], ct), cancellationToken).ConfigureAwait(false);
            }
            catch (TargetRefusedException refused) when (step.Count > 1)
            {
                _log.Debug("{Job}: batch refused by {Folder} ({Reason}); appending one by one", _job, name, refused.ServerText);
                steps.InsertRange(0, step.Select(i => new List<int> { i }));
                continue;
            }
            catch (TargetRefusedException refused)
            {
                var i = step[0];
                var reason = $"refused by side {to}: {refused.ServerText}" + (items[i].NotCrlf ? " (the message has a bare LF or no final line break, kept as the other side served it)" : "");
                done.Add(intents[i] with { State = SyncState.Failed, LastError = reason, Attempts = intents[i].Attempts + 1 });
                ReportFailure(item, intents[i], reason, to.Other());
                continue;
            }

            if (uids.All(u => u is not null))
            {
                done.AddRange(step.Select((i, k) => intents[i].WithUid(to, uids[k]) with { State = SyncState.Paired, Toward = null, Attempts = intents[i].Attempts + 1 }));
                continue;
            }

            // No APPENDUID (no UIDPLUS): find what arrived by content, as after a crash.
            var arrived = await ReadAsync(to, $"list {name}", ct => target.FetchSummariesAsync(step.Min(i => intents[i].UidNextBefore), ct), cancellationToken).ConfigureAwait(false);
            var claimed = done.Select(r => r.Uid(to)).Where(u => u is not null).Select(u => u!.Value).ToHashSet();
            var matched = ContentMatcher.Match(step.Select(i => intents[i]), r => r.Key(to), arrived.Where(m => !claimed.Contains(m.Uid)), m => m.Size);
            done.AddRange(matched.Select(m => m.Wanted.WithUid(to, m.Match.Uid) with { State = SyncState.Paired, Toward = null, Attempts = m.Wanted.Attempts + 1 }));
            if (matched.Count < step.Count)
                item.Incomplete = true;
        }

        return done;
    }

    // ---- plumbing ----------------------------------------------------------------------------

    private void ReportFailure(Work item, SyncRow row, string reason, Side? origin = null)
    {
        var from = origin ?? row.Toward?.Other() ?? Side.A;
        item.Report.Failed++;
        lock (_result)
            _result.Failures.Add(new MessageFailure(item.Pair.Name(from), row.Uid(from) ?? 0, row.MessageId, row.Size(from), $"side {from.Other()}: {reason}"));
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

    private void SkipFolder(FolderResult report, string reason)
    {
        report.Error = reason;
        Warn($"{report.SourceFolder} <-> {report.TargetFolder}: folder skipped: {reason}");
    }

    private void Warn(string warning)
    {
        _log.Warning("{Job}: {Warning}", _job, warning);
        lock (_result)
            _result.Warnings.Add(warning);
    }
}
