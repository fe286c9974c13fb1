using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Polly;
using Serilog;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>Two-way sync: carrying out the plans, every write behind its intent.</summary>
public sealed partial class SyncEngine
{
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
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message or FailureKind.Transient)
            {
                // A MOVE is not sent twice blindly: its intents (Moving and Pending rows) stay for the
                // next run, which looks where the messages are; this run goes on with the rest.
                _result.Warn(_log, _job, $"{source} -> {destination} on side {on}: {list.Count} message(s) not moved ({ex.Message}); the next run looks where they are and finishes the move");
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

        foreach (var side in Both.Where(_ => !item.Selected))
            await ReadAsync(side, $"select {pair.Name(side)}", ct => _sides[side].OpenFolderAsync(pair.Name(side), _policy.Writable[side], ct), cancellationToken).ConfigureAwait(false);

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
        {
            // Held for want of UIDPLUS: the pair's cursors stay, so every run reports it again.
            if (!await ExpungeRowsAsync(side, pair, pair.Name(side), plan.Expunge[side], counts, cancellationToken).ConfigureAwait(false))
                item.Incomplete = true;
        }

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
            _result.Warn(_log, _job, $"{pair.NameA} <-> {pair.NameB}: {recopy.Count} message(s) deleted on side {gone} had their flags changed on side {keep} since the last sync: kept, and copied back to {gone}");
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
        // One-way: a failed copy is recorded and reported, and waits for --retry-failed, not for every run.
        if (item.Incomplete || (item.Report.Failed > 0 && !_policy.OneWay))
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
    /// Returns false when the side cannot expunge single messages (no UIDPLUS): the deletions are
    /// held and reported, and the caller leaves the pair for the next run.
    /// </summary>
    private async Task<bool> ExpungeRowsAsync(Side side, SyncPairState pair, string folder, List<SyncRow> rows, SyncCounts counts, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return true;
        var store = _sides[side];
        if (!store.CanExpungeByUid)
        {
            counts.Held(side, rows.Count);
            counts.HeldReason = $"side {side} does not offer UIDPLUS, so its messages cannot be expunged one by one without also expunging what a user marked \\Deleted; {rows.Count} deletion(s) not made";
            _result.Warn(_log, _job, $"{folder}: {counts.HeldReason}");
            return false;
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
        return true;
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
            group.Ids.Add(row.Id);
        }

        foreach (var (change, uids, ids) in groups.Values)
        {
            try
            {
                await StoreAsync(side, $"store flags on {uids.Count} messages in {name}", ct => _sides[side].StoreFlagsAsync(uids, change, ct), cancellationToken).ConfigureAwait(false);
                keywords.Held(change.AddKeywords);
            }
            catch (StoreFailureException full) when (change.AddKeywords.Count > 0 && TargetKeywords.IsKeywordLimit(full.Message))
            {
                // The folder takes no more keywords (Cyrus): the same change without the ones it does not hold (as migrate does).
                keywords.Full();
                var (send, dropped) = keywords.Filter(change.AddKeywords);
                item.Report.NoteDroppedKeywords(dropped, uids.Count);
                foreach (var id in ids)
                {
                    var current = updated[id];
                    var (flags, kept) = FlagText.Parse(current.Flags(side));
                    updated[id] = current.WithFlags(side, FlagText.Format(flags, kept.Where(k => !dropped.Contains(k, StringComparer.OrdinalIgnoreCase))));
                }

                var rest = change with { AddKeywords = send };
                if (!rest.IsEmpty)
                    await StoreAsync(side, $"store flags on {uids.Count} messages in {name}", ct => _sides[side].StoreFlagsAsync(uids, rest, ct), cancellationToken).ConfigureAwait(false);
            }

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
                    await _sides[from].ReadMessagesAsync(missing, async (uid, stream, token) =>
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
                    // A retried failure's intent carries its attempts and last error on (migrate's ledger rule).
                    if (item.Retrying.TryGetValue(message.Uid, out var earlier))
                        origin = origin with { Attempts = earlier.Attempts, LastError = earlier.LastError };
                    // A message expunged by another client while it was read comes back without bytes
                    // (RFC 9051 lets the server answer NIL): reported as such, never appended empty.
                    var spool = spools.GetValueOrDefault(message.Uid);
                    var failure = TargetWriter.Prepare(spool, target.TakesBinary, out var mime, out var binary, out var notCrlf);
                    if (spool is { Length: 0 } && message.Size > 0)
                        failure = $"{(_policy.OneWay ? "the source" : $"side {from}")} served no bytes of its {message.Size:N0} (expunged there while it was read?)";
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
                var done = await AppendBatchAsync(item, to, items, saved, keywords, cancellationToken).ConfigureAwait(false);
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
    /// the new UIDs are learnt by content. A dropped connection or a timeout is retried by the
    /// append-with-reconcile pipeline, never as a blind APPEND: each retry first looks in the folder
    /// for what the failed attempt stored and appends only the rest. When the retries are spent the
    /// intents stay pending for the next run.
    /// </summary>
    private async Task<List<SyncRow>> AppendBatchAsync(Work item, Side to, List<AppendItem> items, List<SyncRow> intents, TargetKeywords keywords, CancellationToken cancellationToken)
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
                var sent = step;
                uids = await _retry[to].RunAsync(_pipelines[to].AppendWithReconcile, $"append {step.Count} messages to {name}", async (isRetry, ct) =>
                {
                    if (isRetry)
                    {
                        // The failed attempt may have stored some or all of the step: look before sending again.
                        var found = await FindArrivedAsync(item, to, [.. sent.Select(i => intents[i])], done, ct).ConfigureAwait(false);
                        done.AddRange(found);
                        var landed = found.Select(r => r.Id).ToHashSet();
                        sent = [.. sent.Where(i => !landed.Contains(intents[i].Id))];
                        _log.Information("{Job}: {Folder} on side {Side}: after the failure {Landed} of the batch had landed; appending {Rest}", _job, name, to, found.Count, sent.Count);
                        // What is left goes one message at a time (as migrate does): a batch that cost
                        // the connection may hold a message that makes the server drop it again (Cyrus
                        // crashes on a MULTIAPPEND past its keyword limit); alone, it is refused instead.
                        if (sent.Count > 1)
                        {
                            steps.InsertRange(0, sent.Skip(1).Select(i => new List<int> { i }));
                            sent = [sent[0]];
                        }
                    }

                    step = sent;
                    return sent.Count == 0 ? [] : await target.AppendAsync(name, [.. sent.Select(i => items[i])], ct).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (TargetRefusedException refused) when (step.Count > 1)
            {
                _log.Debug("{Job}: batch refused by {Folder} ({Reason}); appending one by one", _job, name, refused.ServerText);
                steps.InsertRange(0, step.Select(i => new List<int> { i }));
                continue;
            }
            catch (StoreFailureException full) when (full.Kind == FailureKind.Account && step.Count > 1 && target.IsConnected)
            {
                // A full quota refuses the whole MULTIAPPEND although some of it may still fit: what
                // fits goes one by one; the message that does not fit stops the account (as migrate does).
                _log.Debug("{Job}: batch refused by {Folder} ({Reason}); appending one by one", _job, name, full.Message);
                steps.InsertRange(0, step.Select(i => new List<int> { i }));
                continue;
            }
            catch (TargetRefusedException noRoom) when (items[step[0]].Keywords.Count > 0 && TargetKeywords.IsKeywordLimit(noRoom.ServerText))
            {
                // The folder takes no more keywords (Cyrus: 100 per mailbox): the message goes again
                // with those the folder holds already, the others named as dropped (as migrate does).
                keywords.Full();
                var i = step[0];
                var (send, dropped) = keywords.Filter(items[i].Keywords);
                if (send.Count == items[i].Keywords.Count)
                    (send, dropped) = ([], [.. items[i].Keywords]);
                _log.Information("{Job}: {Folder} on side {Side} takes no more keywords ({Reason}); appending without {Dropped}", _job, name, to, noRoom.ServerText, string.Join(' ', dropped));
                item.Report.NoteDroppedKeywords(dropped);
                items[i] = items[i] with { Keywords = send };
                intents[i] = intents[i].WithFlags(to, FlagText.Format(items[i].Flags, send));
                steps.Insert(0, step);
                continue;
            }
            catch (TargetRefusedException refused)
            {
                var i = step[0];
                var reason = $"refused by {(_policy.OneWay ? "the target" : $"side {to}")}: {refused.ServerText}" + (items[i].NotCrlf ? " (the message has a bare LF or no final line break, kept as the other side served it)" : "");
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
            var batch = step.Select(i => intents[i]).ToList();
            var matched = await ReadAsync(to, $"list {name}", ct => FindArrivedAsync(item, to, batch, done, ct), cancellationToken).ConfigureAwait(false);
            done.AddRange(matched);
            if (matched.Count < step.Count)
                item.Incomplete = true;
        }

        return done;
    }

    /// <summary>
    /// The pending rows of <paramref name="wanted"/> whose message is in the folder on side
    /// <paramref name="to"/> at or above their recorded UIDNEXT, by content, among the messages no
    /// row claims (the ledger's, this batch's <paramref name="done"/>): a twin already paired, or a
    /// message moved in this run, is never taken for one. Returns them paired.
    /// </summary>
    private async Task<List<SyncRow>> FindArrivedAsync(Work item, Side to, List<SyncRow> wanted, List<SyncRow> done, CancellationToken cancellationToken)
    {
        if (wanted.Count == 0)
            return [];
        var arrived = await _sides[to].FetchSummariesAsync(wanted.Min(r => r.UidNextBefore), cancellationToken).ConfigureAwait(false);
        var claimed = _ledger.LoadSyncRows(item.Pair.Id).Concat(done).Select(r => r.Uid(to)).Where(u => u is not null).Select(u => u!.Value).ToHashSet();
        claimed.UnionWith(item.OthersClaim);
        var matched = ContentMatcher.Match(wanted, r => r.Key(to), arrived.Where(m => !claimed.Contains(m.Uid)), m => m.Size);
        return [.. matched.Select(m => m.Wanted.WithUid(to, m.Match.Uid) with { State = SyncState.Paired, Toward = null, Attempts = m.Wanted.Attempts + 1 })];
    }
}
