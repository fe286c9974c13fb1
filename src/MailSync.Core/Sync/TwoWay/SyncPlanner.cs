using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Model;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>
/// One side of a folder pair as the engine listed it, for the planner. <see cref="FlagsNow"/> holds
/// the flags of the messages it knows them for (every message on a full listing, the changed ones
/// after CONDSTORE's CHANGEDSINCE): a message absent from it has the flags the ledger last saw.
/// <see cref="Summaries"/> holds at least every present message no ledger row claims.
/// </summary>
public sealed record SideView(
    int Count,
    IReadOnlySet<uint> Present,
    IReadOnlyDictionary<uint, string> FlagsNow,
    IReadOnlyDictionary<uint, MessageInfo> Summaries,
    IReadOnlyDictionary<uint, string>? HeaderHashes = null)
{
    /// <summary>What the side has for this row's message now.</summary>
    public string FlagsOf(SyncRow row, Side side)
        => row.Uid(side) is { } uid && FlagsNow.TryGetValue(uid, out var now) ? now : row.Flags(side);

    public static string FlagsOf(MessageInfo message) => FlagText.Format(message.Flags & FlagText.Settable, message.Keywords);
}

/// <summary>Deletions the guard kept back in one folder, and why.</summary>
public sealed record HeldDeletions(int Count, string Reason);

/// <summary>
/// What one run does in one folder pair, both ways. Side-indexed by the side the action is applied
/// to: <c>Append[B]</c> holds A's messages to append to B, <c>Expunge[B]</c> the rows whose copy
/// on B goes because A expunged its message.
/// </summary>
public sealed class PairPlan(Sides<string> names)
{
    public Sides<string> Names { get; } = names;

    /// <summary>New rows: messages found on both sides by content (first sync, or the same mail arriving on both), with their flags after the merge.</summary>
    public List<SyncRow> NewPairs { get; } = [];

    public Sides<List<MessageInfo>> Append { get; } = new([], []);

    /// <summary>Flag changes to make on each side, by row (rows of <see cref="NewPairs"/> included).</summary>
    public Sides<List<(SyncRow Row, FlagChange Change)>> Store { get; } = new([], []);

    /// <summary>Known rows to save as they are here once the stores are done: new last-seen flags, or a side let go (deletions "keep").</summary>
    public List<SyncRow> Updated { get; } = [];

    public Sides<List<SyncRow>> Expunge { get; } = new([], []);

    /// <summary>Rows to forget: the message is gone from both sides, or a failure whose message is gone.</summary>
    public List<SyncRow> Forget { get; } = [];

    /// <summary>
    /// Conflicts: <c>Recopy[A]</c> rows were expunged on A while their flags changed on B, so B's
    /// message is kept and copied to A again (the row is forgotten and replaced by the copy's).
    /// </summary>
    public Sides<List<SyncRow>> Recopy { get; } = new([], []);

    /// <summary>Deletions on each side held back by the guard.</summary>
    public Sides<HeldDeletions?> Held { get; set; }

    public List<SyncRow> EarlierFailures { get; } = [];

    /// <summary>Paired rows left alone: nothing changed on either side.</summary>
    public int Unchanged { get; set; }

    /// <summary>No write to either server (saving resolved rows to the ledger aside).</summary>
    public bool WritesNothing =>
        Append.A.Count + Append.B.Count + Store.A.Count + Store.B.Count + Expunge.A.Count + Expunge.B.Count + Recopy.A.Count + Recopy.B.Count == 0;
}

/// <summary>A message moved between folders on one side, to be moved the same way on the other (<see cref="On"/>).</summary>
/// <param name="On">The side the MOVE is made on (the user moved the message on the other one).</param>
/// <param name="From">The plan of the folder pair the message left.</param>
/// <param name="Row">Its row there.</param>
/// <param name="To">The plan of the folder pair it arrived in (may be <paramref name="From"/>: expunged and appended again).</param>
/// <param name="Message">The message as it arrived, on the side the user moved it.</param>
public sealed record PlannedMove(Side On, PairPlan From, SyncRow Row, PairPlan To, MessageInfo Message);

/// <summary>The outcome of resolving what an interrupted run left in flight, before planning.</summary>
public sealed record Resolution(List<SyncRow> Rows, List<SyncRow> Changed, List<long> Forget, int Reconciled, Sides<int> Repaired);

/// <summary>
/// Two-way sync's decisions, without touching a server: pure functions from the ledger's rows and
/// both sides' listings to what to do, each rule a table row in SyncPlannerTests, every one also
/// run with the sides swapped. The engine lists, resolves, plans, detects moves, applies the
/// guard, then acts.
/// </summary>
public static class SyncPlanner
{
    /// <summary>
    /// Settles the rows an interrupted run left in flight, by looking at what each side holds:
    /// a pending APPEND (or MOVE) toward a side landed if a message with its content arrived there
    /// at or after the UIDNEXT recorded before it (no other row claims it); a move away from a side
    /// happened if the copy is gone; an interrupted expunge is decided again by the planner (a \Deleted
    /// an expunge or a move had already stored counting as the sync's own, not as a change). After a
    /// side's UIDVALIDITY changed, every row is found again there by content (the side's summaries
    /// must then be complete); a row not found is forgotten, so its message is paired by content or
    /// copied again, never lost. With <paramref name="retryFailed"/> failed rows are forgotten so
    /// their messages are tried again.
    /// </summary>
    public static Resolution Resolve(IReadOnlyList<SyncRow> rows, Sides<SideView> views, Sides<bool> validityChanged, bool retryFailed)
    {
        var current = rows.ToDictionary(r => r.Id);
        var changed = new HashSet<long>();
        var forget = new List<long>();
        var reconciled = 0;
        var repaired = new int[2];

        void Drop(SyncRow row)
        {
            current.Remove(row.Id);
            forget.Add(row.Id);
        }

        void Set(SyncRow row)
        {
            current[row.Id] = row;
            changed.Add(row.Id);
        }

        foreach (var side in new[] { Side.A, Side.B })
        {
            var view = views[side];
            if (validityChanged[side])
            {
                // Old UIDs mean nothing now: pending rows are dropped (their copies pair by content
                // like any message both sides have), the others are found again by content.
                foreach (var row in current.Values.Where(r => r.State == SyncState.Pending && r.Toward == side).ToList())
                    Drop(row);
                var known = current.Values.Where(r => r.Uid(side) is not null).OrderBy(r => r.Uid(side)).ToList();
                var matched = ContentMatcher.Match(known, r => r.Key(side), view.Summaries.Values, m => m.Size);
                var found = matched.ToDictionary(m => m.Wanted.Id, m => m.Match.Uid);
                foreach (var row in known)
                {
                    if (found.TryGetValue(row.Id, out var uid))
                        Set(row.WithUid(side, uid));
                    else
                        Drop(row);
                }

                repaired[(int)side] = found.Count;
            }
        }

        foreach (var side in new[] { Side.A, Side.B })
        {
            var view = views[side];
            var other = side.Other();
            var claimed = current.Values.Where(r => r.Uid(side) is not null).Select(r => r.Uid(side)!.Value).ToHashSet();
            foreach (var row in current.Values.Where(r => r.Toward == side).OrderBy(r => r.Id).ToList())
            {
                switch (row.State)
                {
                    case SyncState.Pending:
                    {
                        var candidates = view.Summaries.Values
                            .Where(m => m.Uid >= row.UidNextBefore && view.Present.Contains(m.Uid) && !claimed.Contains(m.Uid))
                            .OrderBy(m => m.Uid);
                        var match = ContentMatcher.Match([row], r => r.Key(side), candidates, m => m.Size).FirstOrDefault();
                        if (match.Match is { } landed)
                        {
                            claimed.Add(landed.Uid);
                            Set(row.WithUid(side, landed.Uid).WithSize(side, landed.Size) with { State = SyncState.Paired, Toward = null, Attempts = row.Attempts + 1 });
                            reconciled++;
                        }
                        else
                        {
                            Drop(row);
                        }

                        break;
                    }

                    case SyncState.Moving:
                        // The copy still here means the MOVE never happened, or (a server without MOVE)
                        // only its COPY and \Deleted did: the row is as before and the planner finds the
                        // move again, or expunges the copy left behind once the moved one is paired.
                        // The row keeps its state: a deletion an earlier run decided on (and got past the
                        // guard) is not held back by the guard now (see ApplyGuard).
                        if (row.Uid(side) is { } uid && view.Present.Contains(uid))
                            Set(WithOwnDeleted(row, side, view));
                        else
                            Drop(row);
                        break;
                    case SyncState.Expunging:
                        Set(WithOwnDeleted(row, side, view));
                        break;
                    case SyncState.Failed when retryFailed || row.Uid(other) is not { } origin || !views[other].Present.Contains(origin):
                        Drop(row);
                        break;
                }
            }
        }

        var final = current.Values.OrderBy(r => r.Id).ToList();
        return new Resolution(final, [.. final.Where(r => changed.Contains(r.Id))], forget, reconciled, new Sides<int>(repaired[0], repaired[1]));
    }

    /// <summary>
    /// An expunge on IMAP is two commands, STORE +FLAGS (\Deleted) then UID EXPUNGE (a move without
    /// MOVE three: COPY first): interrupted between them, the copy is still on <paramref name="side"/>
    /// and carries a \Deleted the sync set itself. It is taken into the row's last-seen flags there,
    /// so the planner expunges (or moves) the copy again instead of reading the flag as the user's
    /// change since the last sync (a conflict, which would copy the message back to the side whose
    /// user expunged or moved it).
    /// </summary>
    private static SyncRow WithOwnDeleted(SyncRow row, Side side, SideView view)
    {
        if (row.Uid(side) is not { } uid || !view.Present.Contains(uid) || !view.FlagsNow.TryGetValue(uid, out var now))
            return row;
        var (last, keywords) = FlagText.Parse(row.Flags(side));
        return (FlagText.Parse(now).Flags & MessageFlags.Deleted) != 0 && (last & MessageFlags.Deleted) == 0
            ? row.WithFlags(side, FlagText.Format(last | MessageFlags.Deleted, keywords))
            : row;
    }

    /// <summary>The present messages of a side that no row claims: what is new there.</summary>
    public static List<uint> Unclaimed(IReadOnlyList<SyncRow> rows, SideView view, Side side)
    {
        var claimed = rows.Where(r => r.Uid(side) is not null).Select(r => r.Uid(side)!.Value).ToHashSet();
        return [.. view.Present.Where(u => !claimed.Contains(u)).Order()];
    }

    /// <summary>
    /// The plan for one folder pair from its resolved rows (no row in flight) and both listings:
    /// new messages on either side are paired by content with the other side's new ones or copied
    /// there; flags are merged per flag, three ways; a message gone from one side goes from the
    /// other (or, if its flags changed there meanwhile, is kept and copied back: a conflict);
    /// deletions are planned unguarded here (see <see cref="ApplyGuard"/>).
    /// </summary>
    public static PairPlan Plan(Sides<string> names, IReadOnlyList<SyncRow> rows, Sides<SideView> views, SyncPolicy? policy = null)
    {
        var writable = policy?.Writable ?? new Sides<bool>(true, true);
        var plan = new PairPlan(names);
        foreach (var row in rows)
        {
            switch (row.State)
            {
                case SyncState.Failed:
                    // A copy that failed is reported again while its original is there, forgotten once it is gone.
                    var origin = (row.Toward ?? Side.B).Other();
                    if (row.Uid(origin) is { } uid && views[origin].Present.Contains(uid))
                        plan.EarlierFailures.Add(row);
                    else
                        plan.Forget.Add(row);
                    continue;
                case SyncState.Pending:
                    continue;
            }

            // Moving and Expunging rows reaching here (settled by Resolve: the copy is still there)
            // are planned as paired ones.

            if (row.UidA is not { } uidA || row.UidB is not { } uidB)
            {
                // Kept on one side on purpose: no longer synced, forgotten once gone there too.
                var kept = row.UidA is not null ? Side.A : Side.B;
                if (!views[kept].Present.Contains(row.Uid(kept)!.Value))
                    plan.Forget.Add(row);
                continue;
            }

            var onA = views.A.Present.Contains(uidA);
            var onB = views.B.Present.Contains(uidB);
            if (onA && onB)
                MergeFlags(plan, row, views, writable);
            else if (!onA && !onB)
                plan.Forget.Add(row);
            else if (writable.A && writable.B)
                Gone(plan, row, onA ? Side.B : Side.A, views);
            else
            {
                // One-way: a message gone from one side is not deleted from, nor copied back to,
                // the other; its row lets the gone side go (no longer synced, forgotten once gone
                // from the other side too), as with deletions "keep".
                var gone = onA ? Side.B : Side.A;
                plan.Updated.Add(row.WithUid(gone, null) with { State = SyncState.Paired, Toward = null });
            }
        }

        PairNew(plan, rows, views, writable);
        return plan;
    }

    /// <summary>
    /// The last-seen flags the 3-way merge starts from under a policy: a side that may not be
    /// written to has its "last seen" flags taken as those the other side has now, so the other
    /// side's own changes never flow to it and the side's changes flow to the other one as deltas
    /// (migrate's one-way merge: a flag set only on B stays on B).
    /// </summary>
    private static Sides<string> Baseline(Sides<string> last, Sides<string> now, Sides<bool> writable)
        => new(writable.B ? last.A : now.A, writable.A ? last.B : now.B);

    private static void MergeFlags(PairPlan plan, SyncRow row, Sides<SideView> views, Sides<bool> writable)
    {
        var now = new Sides<string>(views.A.FlagsOf(row, Side.A), views.B.FlagsOf(row, Side.B));
        var (change, after) = Merge(Baseline(new Sides<string>(row.FlagsA, row.FlagsB), now, writable), now);
        if (change.A.IsEmpty && change.B.IsEmpty && after.A == row.FlagsA && after.B == row.FlagsB && row.State == SyncState.Paired)
        {
            plan.Unchanged++;
            return;
        }

        var updated = row with { FlagsA = after.A, FlagsB = after.B, State = SyncState.Paired, Toward = null };
        plan.Updated.Add(updated);
        if (!change.A.IsEmpty)
            plan.Store.A.Add((updated, change.A));
        if (!change.B.IsEmpty)
            plan.Store.B.Add((updated, change.B));
    }

    /// <summary>The row's message is gone from <paramref name="gone"/> and still on the other side.</summary>
    private static void Gone(PairPlan plan, SyncRow row, Side gone, Sides<SideView> views)
    {
        var other = gone.Other();
        if (views[other].FlagsOf(row, other) != row.Flags(other))
            plan.Recopy[gone].Add(row);
        else
            plan.Expunge[other].Add(row);
    }

    /// <summary>
    /// The 3-way merge of a paired message's flags (<see cref="FlagMerge.ThreeWay"/>): the change for
    /// each side and the flags each side then has.
    /// </summary>
    public static (Sides<FlagChange> Change, Sides<string> After) Merge(Sides<string> last, Sides<string> now)
    {
        var change = FlagMerge.ThreeWay(last, now);
        return (change, new Sides<string>(Apply(now.A, change.A), Apply(now.B, change.B)));
    }

    /// <summary>Flags after a change.</summary>
    public static string Apply(string flags, FlagChange change)
    {
        var (system, keywords) = FlagText.Parse(flags);
        return FlagText.Format(
            (system | change.Add) & ~change.Remove,
            keywords.Union(change.AddKeywords, StringComparer.OrdinalIgnoreCase).Where(k => !change.RemoveKeywords.Contains(k, StringComparer.OrdinalIgnoreCase)));
    }

    /// <summary>
    /// New messages (claimed by no row) on both sides: pairs those with the same content, one to
    /// one in UID order, and plans the rest as appends to the other side. Content is the
    /// Message-ID, INTERNALDATE and size; messages without a Message-ID pair only when a hash of
    /// their header block (<see cref="SideView.HeaderHashes"/>) matches too, so two distinct
    /// messages of the same second and size are never taken for each other.
    /// </summary>
    private static void PairNew(PairPlan plan, IReadOnlyList<SyncRow> rows, Sides<SideView> views, Sides<bool> writable)
    {
        var newA = Unclaimed(rows, views.A, Side.A).Select(u => Summary(views.A, u)).ToList();
        var newB = Unclaimed(rows, views.B, Side.B).Select(u => Summary(views.B, u)).ToList();
        var candidates = new Dictionary<(string, long, long), Queue<MessageInfo>>();
        foreach (var m in newB)
        {
            if (IdentityOf(m, views.B) is not { } id)
                continue;
            var key = (id, m.InternalDate.ToUnixTimeSeconds(), m.Size);
            if (!candidates.TryGetValue(key, out var queue))
                candidates[key] = queue = new Queue<MessageInfo>();
            queue.Enqueue(m);
        }

        var pairedB = new HashSet<uint>();
        foreach (var a in newA)
        {
            if (IdentityOf(a, views.A) is { } id && candidates.TryGetValue((id, a.InternalDate.ToUnixTimeSeconds(), a.Size), out var queue) && queue.Count > 0)
            {
                var b = queue.Dequeue();
                pairedB.Add(b.Uid);
                var now = new Sides<string>(SideView.FlagsOf(a), SideView.FlagsOf(b));
                var (change, after) = Merge(Baseline(new Sides<string>("", ""), now, writable), now);
                var row = new SyncRow(0, a.Uid, b.Uid, SyncState.Paired, null, a.MessageId, a.InternalDate.ToUnixTimeSeconds(), a.Size, b.Size, after.A, after.B);
                plan.NewPairs.Add(row);
                if (!change.A.IsEmpty)
                    plan.Store.A.Add((row, change.A));
                if (!change.B.IsEmpty)
                    plan.Store.B.Add((row, change.B));
            }
            else if (writable.B)
            {
                plan.Append.B.Add(a);
            }
        }

        if (writable.A)
            plan.Append.A.AddRange(newB.Where(b => !pairedB.Contains(b.Uid)));
    }

    /// <summary>What a new message is recognised by besides date and size: its Message-ID, else its header block's hash, else nothing (never paired).</summary>
    private static string? IdentityOf(MessageInfo message, SideView view)
        => message.MessageId is { Length: > 0 } id ? "id:" + id
            : view.HeaderHashes?.GetValueOrDefault(message.Uid) is { } hash ? "hash:" + hash
            : null;

    private static MessageInfo Summary(SideView view, uint uid)
        => view.Summaries.TryGetValue(uid, out var summary)
            ? summary
            : throw new InvalidOperationException($"no summary was listed for the new message UID {uid}");

    /// <summary>
    /// The new messages without a Message-ID whose date and size meet a new message of the other
    /// side: only their header blocks need fetching to pair them (<see cref="SideView.HeaderHashes"/>).
    /// </summary>
    public static Sides<List<uint>> HeaderHashesWanted(IReadOnlyList<SyncRow> rows, Sides<SideView> views)
    {
        List<MessageInfo> Bare(Side side) => [.. Unclaimed(rows, views[side], side).Select(u => Summary(views[side], u)).Where(m => string.IsNullOrEmpty(m.MessageId))];
        var a = Bare(Side.A);
        var b = Bare(Side.B);
        var keysA = a.Select(m => (m.InternalDate.ToUnixTimeSeconds(), m.Size)).ToHashSet();
        var keysB = b.Select(m => (m.InternalDate.ToUnixTimeSeconds(), m.Size)).ToHashSet();
        return new Sides<List<uint>>(
            [.. a.Where(m => keysB.Contains((m.InternalDate.ToUnixTimeSeconds(), m.Size))).Select(m => m.Uid)],
            [.. b.Where(m => keysA.Contains((m.InternalDate.ToUnixTimeSeconds(), m.Size))).Select(m => m.Uid)]);
    }

    /// <summary>
    /// Moves across the job's folder pairs: a message gone from one pair on side S (so planned to be
    /// expunged on the other side T) that arrived in another pair on S with the same Message-ID,
    /// INTERNALDATE and size (so planned to be appended to T) is moved on T instead, with its flags,
    /// and its bytes are not uploaded again. Messages without a Message-ID are never taken for
    /// moved: a wrong guess would put other bytes on T. Removes what it finds from the plans.
    /// </summary>
    public static List<PlannedMove> FindMoves(IReadOnlyList<PairPlan> plans)
    {
        var moves = new List<PlannedMove>();
        foreach (var on in new[] { Side.A, Side.B })
        {
            var moved = on.Other();
            var arrivals = new Dictionary<ContentKey, Queue<(PairPlan Plan, MessageInfo Message)>>();
            foreach (var plan in plans)
            {
                foreach (var message in plan.Append[on].Where(m => !string.IsNullOrEmpty(m.MessageId)))
                {
                    var key = ContentKey.From(message.MessageId, message.InternalDate, message.Size);
                    if (!arrivals.TryGetValue(key, out var queue))
                        arrivals[key] = queue = new();
                    queue.Enqueue((plan, message));
                }
            }

            if (arrivals.Count == 0)
                continue;
            var found = new List<PlannedMove>();
            foreach (var plan in plans)
            {
                foreach (var row in plan.Expunge[on].Where(r => !string.IsNullOrEmpty(r.MessageId)))
                {
                    if (arrivals.TryGetValue(row.Key(moved), out var queue) && queue.Count > 0)
                    {
                        var (to, message) = queue.Dequeue();
                        found.Add(new PlannedMove(on, plan, row, to, message));
                    }
                }
            }

            // Taken out of the plans in one pass each: a renamed-by-hand folder moves thousands.
            var rows = found.Select(m => m.Row).ToHashSet(ReferenceEqualityComparer.Instance);
            var messages = found.Select(m => m.Message).ToHashSet(ReferenceEqualityComparer.Instance);
            foreach (var plan in plans)
            {
                plan.Expunge[on].RemoveAll(rows.Contains);
                plan.Append[on].RemoveAll(messages.Contains);
            }

            moves.AddRange(found);
        }

        return moves;
    }

    /// <summary>
    /// The deletion policy and the mass-delete guard, applied after moves were found: with
    /// <see cref="DeletionMode.Keep"/> a copy whose message the other side expunged is let go (its
    /// row keeps only its UID); otherwise a side's deletions in this folder are held when they are
    /// more than <see cref="DeletionGuardSettings.MinMessages"/> and more than
    /// <see cref="DeletionGuardSettings.Percent"/> % of the folder, or when the other side's folder
    /// is now empty, unless the user allowed deletions for this folder. Deletions an interrupted run
    /// had already decided on go ahead whatever the guard says: it weighed them then.
    /// </summary>
    public static void ApplyGuard(PairPlan plan, Sides<SideView> views, SyncPolicy policy, params string[] alsoKnownAs)
    {
        var held = new HeldDeletions?[2];
        foreach (var on in new[] { Side.A, Side.B })
        {
            var list = plan.Expunge[on];
            if (list.Count == 0)
                continue;
            var gone = on.Other();
            if (policy.Deletions == DeletionMode.Keep)
            {
                plan.Updated.AddRange(list.Select(r => r.WithUid(gone, null) with { State = SyncState.Paired, Toward = null }));
                list.Clear();
                continue;
            }

            // Deletions an interrupted run had already decided on (rows still Expunging, or Moving: a
            // move without MOVE stopped after its COPY) go ahead; the guard weighs only new ones.
            var decided = list.Where(r => r.State is SyncState.Expunging or SyncState.Moving).ToList();
            list.RemoveAll(r => r.State is SyncState.Expunging or SyncState.Moving);
            if (list.Count == 0)
            {
                list.AddRange(decided);
                continue;
            }

            var size = Math.Max(views[on].Count, 1);
            var guard = policy.Guard;
            string? reason = null;
            if (views[gone].Count == 0)
                reason = $"\"{plan.Names[gone]}\" on side {gone} is now empty: its {list.Count} message(s) would be deleted from \"{plan.Names[on]}\" on side {on}";
            else if (list.Count > guard.MinMessages && list.Count * 100L > guard.Percent * (long)size)
                reason = $"{list.Count} of {views[on].Count} messages ({list.Count * 100L / size} %) would be deleted from \"{plan.Names[on]}\" on side {on} (more than {guard.MinMessages} and {guard.Percent} %)";
            if (reason is null || policy.DeletionsAllowed([plan.Names.A, plan.Names.B, .. alsoKnownAs]))
            {
                list.AddRange(decided);
                continue;
            }

            held[(int)on] = new HeldDeletions(list.Count, reason);
            list.Clear();
            list.AddRange(decided);
        }

        plan.Held = new Sides<HeldDeletions?>(held[0], held[1]);
    }
}
