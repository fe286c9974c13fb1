using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Polly;
using Serilog;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>Two-way sync: listing a pair's two folders, settling what was in flight, planning.</summary>
public sealed partial class SyncEngine
{
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
            var status = await ReadAsync(side, $"select {name}", ct => _sides[side].OpenFolderAsync(name, !_options.DryRun && _policy.Writable[side], ct), cancellationToken).ConfigureAwait(false);
            var cursor = pair.Cursor(side);
            validityChanged[(int)side] = cursor.UidValidity != 0 && cursor.UidValidity != status.UidValidity;
            statuses[(int)side] = status;
            views[(int)side] = await ListSideAsync(side, name, status, cursor, pair.CompletedUtc is not null && !validityChanged[(int)side], rows, cancellationToken).ConfigureAwait(false);
            if (_policy.OneWay && _policy.Writable[side])
            {
                // Other jobs, or this job's other pairs (folders merged into one), fill this folder
                // too: their copies are not this pair's, never paired with or settled onto.
                item.OthersClaim = _ledger.ClaimedByJobs([.. _options.JobsSharingTarget.Where(j => j != _job)], _job, name, status.UidValidity, pair.Id);
                views[(int)side] = Without(views[(int)side], item.OthersClaim);
            }
            if (validityChanged[(int)side])
                _result.Warn(_log, _job, $"{name} on side {side}: UIDVALIDITY changed ({cursor.UidValidity} -> {status.UidValidity}); its messages are paired again by content, none copied again");
        }

        // --retry-failed on a one-way job: only the messages whose copy failed are tried again.
        // A failure whose message the source no longer has keeps its row and is reported (migrate's rule).
        var retry = _policy.OneWay && _options.RetryFailed
            ? rows.Where(r => r.State == SyncState.Failed && r.UidA is not null).Select(r => r.UidA!.Value).ToHashSet()
            : null;
        List<SyncRow> goneFailed = [];
        if (retry is not null)
        {
            goneFailed = [.. rows.Where(r => r.State == SyncState.Failed && r.UidA is { } uid && !views[0].Present.Contains(uid))];
            rows = [.. rows.Except(goneFailed)];
            retry.ExceptWith(goneFailed.Select(r => r.UidA!.Value));
            foreach (var row in rows.Where(r => r.State == SyncState.Failed && r.UidA is not null))
                item.Retrying[row.UidA!.Value] = row;
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
            // Each side's connection still has this pair's folder selected (a reconnect re-selects it).
            var found = await ReadAsync(side, $"header blocks in {pair.Name(side)}", ct => _sides[side].FetchHeaderHashesAsync(wanted, ct), cancellationToken).ConfigureAwait(false);
            views[(int)side] = views[(int)side] with { HeaderHashes = found };
        }

        item.Status = new(statuses[0], statuses[1]);
        item.Views = new(views[0], views[1]);
        item.Rows = rows;
        item.Plan = SyncPlanner.Plan(new(pair.NameA, pair.NameB), rows, item.Views.Value, _policy);
        if (retry is not null)
            RetryOnly(item, retry, goneFailed);
        if (_policy.OneWay)
            item.Report.AlreadyCopied = rows.Count(r => r.State == SyncState.Paired && r.UidA is not null && r.UidB is not null);
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
        // One-way after a complete pass, with CONDSTORE and every row settled: listed as migrate
        // lists (see ReadOneWayAsync). A row in flight or failed needs to know whether its message
        // is still there, which only a full listing says.
        if (_policy.OneWay && !_options.RetryFailed && status.HighestModSeq is not null && cursor.HighestModSeq != 0
            && rows.All(r => r.State == SyncState.Paired))
        {
            if (!_policy.Writable[side])
                return await ReadOneWayAsync(side, name, status, cursor, rows, cancellationToken).ConfigureAwait(false);
            return new SideView(status.Count, Known(rows, side), new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
        }

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

    /// <summary>
    /// The read side of a one-way pair after a complete pass, with CONDSTORE, as migrate lists:
    /// nothing is deleted or moved anywhere, so neither side's expunges matter and no
    /// <c>UID SEARCH ALL</c> is needed; this side costs its flags changed since the cursor and the
    /// summaries from its recorded UIDNEXT on. The written side, with nothing in flight toward it,
    /// is not listed at all: its own flag changes stay its own, and a change from this side goes
    /// to it as a delta. Every message a row knows counts as present on both (one gone only
    /// receives a STORE that changes nothing).
    /// </summary>
    private async Task<SideView> ReadOneWayAsync(Side side, string name, FolderStatus status, SyncCursor cursor, List<SyncRow> rows, CancellationToken cancellationToken)
    {
        var store = _sides[side];
        var flags = status.HighestModSeq == cursor.HighestModSeq
            ? []
            : await ReadAsync(side, $"flag changes in {name}", ct => store.FetchFlagChangesAsync(cursor.HighestModSeq, ct), cancellationToken).ConfigureAwait(false);
        // "UIDNEXT:*" also answers with the last message when nothing is newer: it is simply known already.
        var fresh = status.UidNext == cursor.UidNext
            ? []
            : await ReadAsync(side, $"list new messages in {name}", ct => store.FetchSummariesAsync(cursor.UidNext, ct), cancellationToken).ConfigureAwait(false);
        var present = Known(rows, side);
        present.UnionWith(fresh.Select(m => m.Uid));
        var now = flags.ToDictionary(f => f.Uid, f => FlagText.Format(f.Flags & FlagText.Settable, f.Keywords));
        foreach (var summary in fresh)
            now[summary.Uid] = SideView.FlagsOf(summary);
        return new SideView(status.Count, present, now, fresh.ToDictionary(m => m.Uid));
    }

    /// <summary>
    /// A one-way <c>--retry-failed</c> pass: the plan keeps only the failed messages (appended
    /// again, or paired by content if a copy is found now), nothing else is written or recorded,
    /// and the pair's cursors stay where they were, so the next normal run still looks at it.
    /// </summary>
    private void RetryOnly(Work item, HashSet<uint> retry, List<SyncRow> goneFailed)
    {
        var plan = item.Plan!;
        plan.Append.B.RemoveAll(m => !retry.Contains(m.Uid));
        plan.NewPairs.RemoveAll(r => r.UidA is not { } uid || !retry.Contains(uid));
        var kept = new HashSet<SyncRow>(plan.NewPairs, ReferenceEqualityComparer.Instance);
        plan.Store.B.RemoveAll(s => !kept.Contains(s.Row));
        plan.Store.A.Clear();
        plan.Updated.Clear();
        item.Report.Retried = retry.Count;
        item.Report.NoLongerOnSource = goneFailed.Count;
        item.Report.Failed += goneFailed.Count;
        lock (_result)
        {
            _result.Failures.AddRange(goneFailed.Select(row => new MessageFailure(item.Pair.NameA, row.UidA ?? 0, row.MessageId, row.SizeA,
                $"no longer on the source, so not retried (it had failed: {row.LastError})")));
        }

        item.Incomplete = true;
    }

    private static HashSet<uint> Known(List<SyncRow> rows, Side side)
        => rows.Where(r => r.Uid(side) is not null).Select(r => r.Uid(side)!.Value).ToHashSet();

    private static SideView Without(SideView view, HashSet<uint> uids)
        => uids.Count == 0 ? view : view with
        {
            Present = view.Present.Where(u => !uids.Contains(u)).ToHashSet(),
            FlagsNow = view.FlagsNow.Where(f => !uids.Contains(f.Key)).ToDictionary(),
            Summaries = view.Summaries.Where(f => !uids.Contains(f.Key)).ToDictionary(),
        };

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
}
