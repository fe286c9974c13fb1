using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using Polly;
using Serilog;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>Two-way sync: the folders themselves (renames, creation, deletion, the unchanged test).</summary>
public sealed partial class SyncEngine
{
    // ---- folders -------------------------------------------------------------------------

    /// <summary>What this run renamed, by pair: shown as the pair's folder change.</summary>
    private readonly Dictionary<long, string> _renamed = [];

    /// <summary>
    /// Folder renames, found by UIDVALIDITY (a server keeps it on RENAME; MAILBOXID, RFC 8474, is
    /// not used yet): a pair whose folder is gone from side S while exactly one folder the ledger
    /// does not know appeared there with the pair's recorded UIDVALIDITY was renamed on S, so the
    /// other side's folder is renamed to the new name's counterpart, with everything under it, and
    /// its messages stay where they are instead of being copied into a new folder and deleted from
    /// the old one. The intent (new names, old name on the side renamed) is committed before the
    /// RENAME and cleared after; a run that finds it set finishes the rename. Makes at most one
    /// RENAME and returns whether it did: the caller lists again and asks again.
    /// </summary>
    private async Task<bool> RenameFoldersAsync(
        Sides<IReadOnlyList<FolderInfo>> listed, Sides<NamespaceInfo> namespaces, FolderMappingOptions mapping, CancellationToken cancellationToken)
    {
        var pairs = OwnPairs();
        foreach (var pair in pairs.Where(p => p.RenamingFromA is not null || p.RenamingFromB is not null))
        {
            // An interrupted rename: the intent holds both old names; the side still showing its
            // old name (and not the new one) is renamed now, then the pairs under it follow.
            var did = false;
            foreach (var side in Both)
            {
                var names = listed[side].Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal);
                if (pair.RenamingFrom(side) is { } old && old != pair.Name(side) && names.Contains(old) && !names.Contains(pair.Name(side)))
                {
                    await RenameFolderAsync(side, old, pair.Name(side), names, cancellationToken).ConfigureAwait(false);
                    did = true;
                }
            }

            var (oldA, oldB) = (pair.RenamingFromA ?? pair.NameA, pair.RenamingFromB ?? pair.NameB);
            pair.RenamingFromA = pair.RenamingFromB = null;
            _ledger.SaveSyncPair(pair);
            MoveSubtree(pairs, pair, oldA, oldB);
            if (did)
                return true;
        }

        foreach (var side in Both)
        {
            var other = side.Other();
            var here = listed[side].Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal);
            var there = listed[other].Select(f => SyncFolders.Canonical(f.FullName)).ToHashSet(StringComparer.Ordinal);
            // Parents before children: a parent's RENAME takes its children along.
            foreach (var pair in pairs.Where(p => p.CompletedUtc is not null && p.Cursor(side).UidValidity != 0 && !here.Contains(p.Name(side)))
                .OrderBy(p => p.Name(side).Length).ToList())
            {
                var known = pairs.SelectMany(p => new[] { p.Name(side) }).ToHashSet(StringComparer.Ordinal);
                var candidates = listed[side].Where(f => f.Selectable && f.Counters?.UidValidity == pair.Cursor(side).UidValidity
                    && !known.Contains(SyncFolders.Canonical(f.FullName))).ToList();
                if (candidates.Count != 1)
                    continue;
                var renamedTo = SyncFolders.Canonical(candidates[0].FullName);
                if (SyncFolders.CounterpartName(side, candidates[0], listed, namespaces, mapping) is not { } counterpart
                    || pairs.Any(p => p != pair && p.Name(other) == counterpart))
                    continue;
                var oldThere = pair.Name(other);
                var oldHere = pair.Name(side);
                if (counterpart == oldThere)
                {
                    // The new name maps onto the same folder there (by its role, or a rename rule): only this side's name changes.
                    pair.SetName(side, renamedTo);
                    _ledger.SaveSyncPair(pair);
                    _renamed[pair.Id] = $"renamed on {side} ({oldHere} -> {renamedTo}); still \"{oldThere}\" on {other}";
                    MoveSubtree(pairs, pair, side == Side.A ? oldHere : oldThere, side == Side.A ? oldThere : oldHere);
                }
                else if (there.Contains(oldThere) && !there.Contains(counterpart))
                {
                    pair.SetName(side, renamedTo);
                    pair.SetName(other, counterpart);
                    pair.SetRenamingFrom(side, oldHere);
                    pair.SetRenamingFrom(other, oldThere);
                    _ledger.SaveSyncPair(pair);
                    await RenameFolderAsync(other, oldThere, counterpart, there, cancellationToken).ConfigureAwait(false);
                    pair.RenamingFromA = pair.RenamingFromB = null;
                    _ledger.SaveSyncPair(pair);
                    _renamed[pair.Id] = $"renamed on {side} ({oldHere} -> {renamedTo}): renamed on {other} ({oldThere} -> {counterpart})";
                    _log.Information("{Job}: folder {Old} was renamed to {New} on side {Side}; renamed {OldThere} to {NewThere} on side {Other}",
                        _job, oldHere, renamedTo, side, oldThere, counterpart, other);
                    // RENAME took the folders under it along on the other side: their pairs follow.
                    MoveSubtree(pairs, pair, side == Side.A ? oldHere : oldThere, side == Side.A ? oldThere : oldHere);
                    return true;
                }
                else if (!there.Contains(oldThere) && there.Contains(counterpart))
                {
                    // Renamed the same way on both sides: only the names change.
                    pair.SetName(side, renamedTo);
                    pair.SetName(other, counterpart);
                    _ledger.SaveSyncPair(pair);
                    _renamed[pair.Id] = $"renamed on both sides ({oldHere} -> {renamedTo})";
                    MoveSubtree(pairs, pair, side == Side.A ? oldHere : oldThere, side == Side.A ? oldThere : oldHere);
                }
            }
        }

        return false;
    }

    /// <summary>
    /// After a rename of <paramref name="renamed"/> (from <paramref name="oldA"/>/<paramref name="oldB"/>
    /// to its names now), the pairs of the folders under it take the new names: RENAME took them along.
    /// </summary>
    private void MoveSubtree(List<SyncPairState> pairs, SyncPairState renamed, string oldA, string oldB)
    {
        var old = new Sides<string>(oldA, oldB);
        foreach (var child in pairs.Where(p => p != renamed))
        {
            var changed = false;
            foreach (var side in Both)
            {
                var delimiter = _sides[side].Namespace.Delimiter;
                if (delimiter != '\0' && old[side] != renamed.Name(side) && child.Name(side).StartsWith(old[side] + delimiter, StringComparison.Ordinal))
                {
                    child.SetName(side, renamed.Name(side) + child.Name(side)[old[side].Length..]);
                    changed = true;
                }
            }

            if (changed)
                _ledger.SaveSyncPair(child);
        }
    }

    /// <summary>Creates the parents of <paramref name="fullName"/> that <paramref name="names"/> (the side's folders) lacks, top down.</summary>
    private async Task EnsureParentsAsync(Side side, string fullName, HashSet<string> names, CancellationToken cancellationToken)
    {
        var ns = _sides[side].Namespace;
        if (ns.Delimiter == '\0' || !fullName.StartsWith(ns.Prefix, StringComparison.Ordinal))
            return;
        var parts = fullName[ns.Prefix.Length..].Split(ns.Delimiter);
        for (var i = 1; i < parts.Length; i++)
        {
            var parent = ns.Prefix + string.Join(ns.Delimiter, parts[..i]);
            if (names.Contains(SyncFolders.Canonical(parent)))
                continue;
            await StoreAsync(side, $"create {parent}", ct => _sides[side].EnsureFolderAsync(parent, false, SpecialUse.None, ct), cancellationToken).ConfigureAwait(false);
            names.Add(parent);
        }
    }

    /// <summary>RENAME on one side, creating the new name's parents first.</summary>
    private async Task RenameFolderAsync(Side side, string from, string to, HashSet<string> names, CancellationToken cancellationToken)
    {
        var ns = _sides[side].Namespace;
        await EnsureParentsAsync(side, to, names, cancellationToken).ConfigureAwait(false);

        await OnceAsync(side, $"rename {from} to {to}", async ct =>
        {
            await _sides[side].RenameFolderAsync(from, to, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        names.Add(to);

        // Servers differ on whether RENAME takes subscriptions along; the user's side kept theirs,
        // so this side's follow the folders by hand, or the next merge would read them as removed.
        var delimiter = ns.Delimiter;
        foreach (var subscribed in _listed[side].Where(f => f.Subscribed
            && (SyncFolders.Canonical(f.FullName) == from || (delimiter != '\0' && f.FullName.StartsWith(from + delimiter, StringComparison.Ordinal)))).ToList())
        {
            var renamed = to + subscribed.FullName[from.Length..];
            await StoreAsync(side, $"subscribe {renamed}", ct => _sides[side].SubscribeAsync(renamed, ct), cancellationToken).ConfigureAwait(false);
            await StoreAsync(side, $"unsubscribe {subscribed.FullName}", ct => _sides[side].UnsubscribeAsync(subscribed.FullName, ct), cancellationToken).ConfigureAwait(false);
        }
    }

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

        if (folder.Replaces is { } replaced && !_options.DryRun)
        {
            _log.Information("{Job}: {Folder} now maps onto {Target} (was {Old}); it is paired anew", _job, folder.NameA, folder.NameB, replaced.NameB);
            _ledger.DeleteSyncPair(replaced.Id);
        }

        if (folder.Missing is { } missing)
        {
            var other = missing.Other();
            if (folder.Pair?.CompletedUtc is not null && !_policy.OneWay)
                return await GoneAsync(folder, missing, names, report, cancellationToken).ConfigureAwait(false);

            counts.FolderChange = $"created on {missing}";
            _log.Information("{Job}: creating folder {Folder} on side {Side} ({Other} has it)", _job, folder.Name(missing), missing, other);
            if (_options.DryRun)
            {
                // Everything in it would be copied to the folder created for it.
                counts.Appended(missing, folder.Info(other)!.Counters?.Count ?? 0);
                return null;
            }

            var subscribe = folder.Info(other)!.Subscribed || folder.Subscribe;
            await EnsureFolderAsync(missing, folder.Name(missing), subscribe, folder.Role, names, cancellationToken).ConfigureAwait(false);
            // The subscriptions as this run left them are the last-seen ones: a later unsubscribe on either side is then a change.
            var created = folder.Pair ?? _ledger.CreateSyncPair(_job, folder.NameA, folder.NameB, _policy.Name);
            created.SubscribedA = missing == Side.A ? subscribe : folder.A!.Subscribed;
            created.SubscribedB = missing == Side.B ? subscribe : folder.B!.Subscribed;
            _ledger.SaveSyncPair(created);
            return created;
        }

        // A dry run writes nothing, not even a new pair: one that is only planned has no rows.
        if (_options.DryRun && folder.Pair is null)
            return new SyncPairState { Id = 0, Job = _job, NameA = folder.NameA, NameB = folder.NameB, Mode = _policy.Name };
        var pair = folder.Pair ?? _ledger.CreateSyncPair(_job, folder.NameA, folder.NameB, _policy.Name);
        if (folder.A is not null && folder.B is not null && !_options.DryRun)
            await SyncSubscriptionAsync(folder, pair, cancellationToken).ConfigureAwait(false);
        return pair;
    }

    /// <summary>
    /// Subscriptions, merged like a flag: subscribed or unsubscribed on one side since the last
    /// sync, the same on the other (both changed and disagreeing: subscribed wins); before a first
    /// sync, subscribed on either side is subscribed on both. The subscription of a folder a run
    /// creates follows its side's. Costs nothing when nothing changed: the listing says it.
    /// </summary>
    private async Task SyncSubscriptionAsync(SyncFolder folder, SyncPairState pair, CancellationToken cancellationToken)
    {
        if (_policy.OneWay)
        {
            // Migrate subscribes the copy as the source is subscribed, and never unsubscribes.
            foreach (var side in Both.Where(s => _policy.Writable[s]))
            {
                if (folder.Info(side.Other())!.Subscribed && !folder.Info(side)!.Subscribed)
                    await StoreAsync(side, $"subscribe {folder.Name(side)}", ct => _sides[side].SubscribeAsync(folder.Name(side), ct), cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var now = new Sides<bool>(folder.A!.Subscribed, folder.B!.Subscribed);
        var last = new Sides<bool>(pair.SubscribedA ?? false, pair.SubscribedB ?? false);
        var changed = new Sides<bool>(now.A != last.A, now.B != last.B);
        bool? wanted = (changed.A, changed.B) switch
        {
            (false, false) => null,
            (true, false) => now.A,
            (false, true) => now.B,
            _ => now.A || now.B,
        };
        foreach (var side in Both)
        {
            if (wanted is not { } value || now[side] == value || LogicalPath.IsInbox(folder.Name(side)))
                continue;
            var name = folder.Name(side);
            if (value)
                await StoreAsync(side, $"subscribe {name}", ct => _sides[side].SubscribeAsync(name, ct), cancellationToken).ConfigureAwait(false);
            else
                await StoreAsync(side, $"unsubscribe {name}", ct => _sides[side].UnsubscribeAsync(name, ct), cancellationToken).ConfigureAwait(false);
        }

        var after = wanted ?? false;
        var subscribedA = wanted is null ? now.A : after;
        var subscribedB = wanted is null ? now.B : after;
        if (pair.SubscribedA != subscribedA || pair.SubscribedB != subscribedB)
        {
            pair.SubscribedA = subscribedA;
            pair.SubscribedB = subscribedB;
            _ledger.SaveSyncPair(pair);
        }
    }

    /// <summary>Creates a folder and any parent it lacks; <paramref name="names"/> are the side's existing folders.</summary>
    private async Task EnsureFolderAsync(Side side, string fullName, bool subscribe, SpecialUse role, Sides<HashSet<string>> names, CancellationToken cancellationToken)
    {
        await EnsureParentsAsync(side, fullName, names[side], cancellationToken).ConfigureAwait(false);

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
            _result.Warn(_log, _job, $"{folder.NameA} <-> {folder.NameB}: {counts.HeldReason}");
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
            if (!await ExpungeRowsAsync(keep, pair, name, copies, counts, cancellationToken).ConfigureAwait(false))
            {
                counts.FolderChange = $"deleted on {gone}; held on {keep}";
                return null;
            }

            _ledger.SaveSyncRows([], rows.Select(r => r.Id));
            status = await ReadAsync(keep, $"select {name}", ct => _sides[keep].OpenFolderAsync(name, true, ct), cancellationToken).ConfigureAwait(false);
            if (status.Count > 0)
            {
                // New there since the last sync: the folder comes back on the other side with them.
                // Subscribed as the folder is on the side that kept it.
                var subscribed = folder.Info(keep)!.Subscribed;
                pair.CompletedUtc = null;
                pair.CursorA = pair.CursorB = SyncCursor.None;
                pair.SubscribedA = pair.SubscribedB = subscribed;
                _ledger.SaveSyncPair(pair);
                await EnsureFolderAsync(gone, folder.Name(gone), subscribed, folder.Role, names, cancellationToken).ConfigureAwait(false);
                counts.FolderChange = $"deleted on {gone}; {status.Count} message(s) new on {keep} since the last sync kept, the folder re-created on {gone}";
                _result.Warn(_log, _job, $"{folder.NameA} <-> {folder.NameB}: {counts.FolderChange}");
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
        if (_policy.OneWay)
            return IsUnchangedOneWay(folder, pair, report);
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

    /// <summary>
    /// One-way (migrate's test): the read side's listed STATUS matches its cursor (UIDVALIDITY,
    /// UIDNEXT, HIGHESTMODSEQ: nothing arrived, no flag changed; what the written side did does not
    /// matter, its changes never flow back), the written side's folder is still the one paired
    /// (same UIDVALIDITY) and nothing is in flight. Earlier failures are reported again.
    /// </summary>
    private bool IsUnchangedOneWay(SyncFolder folder, SyncPairState pair, FolderResult report)
    {
        foreach (var side in Both)
        {
            var cursor = pair.Cursor(side);
            if (folder.Info(side)?.Counters is not { } counters || counters.UidValidity != cursor.UidValidity)
                return false;
            if (!_policy.Writable[side] && (counters.UidNext != cursor.UidNext || counters.HighestModSeq is not { } modSeq || modSeq != cursor.HighestModSeq))
                return false;
        }

        if (_ledger.CountSyncRowsInFlight(pair.Id) > 0)
            return false;
        var read = _policy.Writable.A ? Side.B : Side.A;
        report.Unchanged = true;
        report.SourceMessages = folder.Info(read)!.Counters!.Count;
        report.AlreadyCopied = _ledger.CountSyncRowsPaired(pair.Id);
        var failed = _ledger.LoadSyncRows(pair.Id, SyncState.Failed);
        report.Failed = failed.Count;
        lock (_result)
            _result.Failures.AddRange(failed.Select(row => new MessageFailure(pair.Name(read), row.Uid(read) ?? 0, row.MessageId, row.Size(read), $"{row.LastError} (recorded by an earlier run)")));
        return true;
    }
}
