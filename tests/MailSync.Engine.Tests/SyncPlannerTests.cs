using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Model;
using MailSync.Core.Sync;
using MailSync.Core.Sync.TwoWay;

namespace MailSync.Engine.Tests;

/// <summary>
/// The two-way rules as a table (the README's table, row for row), one message per row, run
/// through the pure planner without any server. Each row also runs with the sides swapped and must
/// give the mirror plan. Notation: a side's column is "-" when the message is not there, else its
/// flags ("" none, "S" \Seen, "F" \Flagged, "A" \Answered, "$x" a keyword); the ledger column is
/// "-" (no row) or the last-synced flags "A-side|B-side", with "failed→B" and "kept on B" for those rows.
/// </summary>
public sealed class SyncPlannerTests
{
    public static TheoryData<string, string, string, string, string> Rules() => new()
    {
        // rule                                                               ledger      A now    B now    plan
        { "new on A: appended to B",                                           "-",        "S",     "-",     "append→B" },
        { "new on both with the same content: paired, flags united",          "-",        "S",     "F",     "pair; store A +F; store B +S" },
        { "unchanged: nothing",                                                "S|S",      "S",     "S",     "none" },
        { "flag set on A: set on B",                                           "|",        "S",     "",      "store B +S" },
        { "flag cleared on A: cleared on B",                                   "S|S",      "",      "S",     "store B -S" },
        { "different flags changed on each side: both carried",               "S|S",      "",      "F S",   "store A +F; store B -S" },
        { "same flag set on both: nothing to write",                          "|",        "F",     "F",     "update" },
        { "true conflict on one flag (last seen differed): set wins",        "S|",       "",      "S",     "store A +S" },
        { "keyword removed on B: removed on A",                               "$x|$x",    "$x",    "",      "store A -$x" },
        { "keyword added on A: added on B",                                    "|",        "$x",    "",      "store B +$x" },
        { "expunged on A: expunged on B",                                      "S|S",      "-",     "S",     "expunge B" },
        { "expunged on A while its flags changed on B: kept, copied back",   "S|S",      "-",     "F S",   "recopy→A" },
        { "expunged on both: forgotten",                                       "S|S",      "-",     "-",     "forget" },
        { "a failed copy whose original is still there: reported again",     "failed→B", "S",     "-",     "earlier failure" },
        { "a failed copy whose original is gone: forgotten",                  "failed→B", "-",     "-",     "forget" },
        { "kept on B on purpose (deletions keep): left alone",                "kept on B", "-",    "S",     "none" },
        { "kept on B on purpose, then expunged there: forgotten",             "kept on B", "-",    "-",     "forget" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Each_rule_plans_as_the_table_says_and_mirrored_the_mirror_plan(string rule, string ledger, string a, string b, string expected)
    {
        Assert.True(expected == Describe(PlanOne(ledger, a, b, mirrored: false)), $"{rule}: planned {Describe(PlanOne(ledger, a, b, mirrored: false))}");
        var mirror = Mirror(expected);
        Assert.True(mirror == Describe(PlanOne(ledger, a, b, mirrored: true)), $"{rule}, sides swapped: planned {Describe(PlanOne(ledger, a, b, mirrored: true))}, expected {mirror}");
    }

    [Fact]
    public void The_guard_holds_a_mass_deletion_and_an_emptied_folder_but_not_a_few_deletions_or_confirmed_ones()
    {
        static (PairPlan Plan, Sides<SideView> Views) Expunged(int total, int gone)
        {
            var rows = Enumerable.Range(1, total).Select(i => new SyncRow(i, (uint)i, (uint)i, SyncState.Paired, null, $"<m{i}@x>", 1000 + i, 100, 100, "", "")).ToList();
            var a = new SideView(total - gone, Enumerable.Range(gone + 1, total - gone).Select(i => (uint)i).ToHashSet(), new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
            var b = new SideView(total, Enumerable.Range(1, total).Select(i => (uint)i).ToHashSet(), new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
            var views = new Sides<SideView>(a, b);
            return (SyncPlanner.Plan(new("Work", "Work"), rows, views), views);
        }

        var (many, views) = Expunged(200, 60);
        SyncPlanner.ApplyGuard(many, views, new SyncPolicy());
        Assert.Empty(many.Expunge.B);
        Assert.Equal(60, many.Held.B!.Count);
        Assert.Contains("60 of 200 messages (30 %)", many.Held.B.Reason, StringComparison.Ordinal);

        var (few, fewViews) = Expunged(200, 50);
        SyncPlanner.ApplyGuard(few, fewViews, new SyncPolicy());
        Assert.Equal(50, few.Expunge.B.Count);
        Assert.Null(few.Held.B);

        var (small, smallViews) = Expunged(1000, 60);
        SyncPlanner.ApplyGuard(small, smallViews, new SyncPolicy());
        Assert.Equal(60, small.Expunge.B.Count);

        var (emptied, emptiedViews) = Expunged(3, 3);
        SyncPlanner.ApplyGuard(emptied, emptiedViews, new SyncPolicy());
        Assert.Empty(emptied.Expunge.B);
        Assert.Contains("is now empty", emptied.Held.B!.Reason, StringComparison.Ordinal);

        var (confirmed, confirmedViews) = Expunged(200, 60);
        SyncPlanner.ApplyGuard(confirmed, confirmedViews, new SyncPolicy { AllowDeletions = new HashSet<string> { "Work" } });
        Assert.Equal(60, confirmed.Expunge.B.Count);
    }

    [Fact]
    public void A_message_gone_from_one_folder_and_new_in_another_on_the_same_side_is_a_move_only_with_the_same_Message_ID_date_and_size()
    {
        PairPlan Pair(string name, SyncRow? row, MessageInfo? arrived)
        {
            var rows = row is null ? new List<SyncRow>() : [row];
            var a = new SideView(arrived is null ? 0 : 1, arrived is null ? new HashSet<uint>() : new HashSet<uint> { arrived.Uid }, arrived is null ? new Dictionary<uint, string>() : new() { [arrived.Uid] = "" },
                arrived is null ? new Dictionary<uint, MessageInfo>() : new() { [arrived.Uid] = arrived });
            var b = new SideView(row is null ? 0 : 1, row is null ? new HashSet<uint>() : new HashSet<uint> { row.UidB!.Value }, new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
            return SyncPlanner.Plan(new(name, name), rows, new(a, b));
        }

        var date = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var row = new SyncRow(1, 7, 9, SyncState.Paired, null, "<m@x>", date.ToUnixTimeSeconds(), 120, 120, "", "");
        var inbox = Pair("INBOX", row, null);
        var archive = Pair("Archive", null, new MessageInfo(3, 120, date, MessageFlags.None, [], "<m@x>"));
        var moves = SyncPlanner.FindMoves([inbox, archive]);
        var move = Assert.Single(moves);
        Assert.Equal(Side.B, move.On);
        Assert.Same(inbox, move.From);
        Assert.Same(archive, move.To);
        Assert.Empty(inbox.Expunge.B);
        Assert.Empty(archive.Append.B);

        // Other size, or no Message-ID: a deletion and an upload, never a guess.
        foreach (var arrived in new[] { new MessageInfo(3, 121, date, MessageFlags.None, [], "<m@x>"), new MessageInfo(3, 120, date, MessageFlags.None, [], null) })
        {
            var from = Pair("INBOX", row with { MessageId = arrived.MessageId }, null);
            var to = Pair("Archive", null, arrived);
            Assert.Empty(SyncPlanner.FindMoves([from, to]));
            Assert.Single(from.Expunge.B);
            Assert.Single(to.Append.B);
        }
    }

    [Fact]
    public void An_interrupted_append_that_landed_is_paired_and_one_that_did_not_is_forgotten_so_its_message_is_new_again()
    {
        var date = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var landed = new SyncRow(1, 5, null, SyncState.Pending, Side.B, "<a@x>", date.ToUnixTimeSeconds(), 100, 100, "S", "S", UidNextBefore: 10);
        var lost = new SyncRow(2, 6, null, SyncState.Pending, Side.B, "<b@x>", date.ToUnixTimeSeconds(), 100, 100, "", "", UidNextBefore: 10);
        var before = new SyncRow(3, 1, 4, SyncState.Paired, null, "<a@x>", date.ToUnixTimeSeconds(), 100, 100, "", "");
        var a = new SideView(3, new HashSet<uint> { 1, 5, 6 }, new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
        // B holds an identical older message (UID 4, claimed) and the landed copy (UID 10).
        var summaries = new Dictionary<uint, MessageInfo>
        {
            [4] = new(4, 100, date, MessageFlags.None, [], "<a@x>"),
            [10] = new(10, 100, date, MessageFlags.Seen, [], "<a@x>"),
        };
        var b = new SideView(2, new HashSet<uint> { 4, 10 }, new Dictionary<uint, string>(), summaries);
        var resolution = SyncPlanner.Resolve([landed, lost, before], new(a, b), new(false, false), retryFailed: false);
        Assert.Equal(1, resolution.Reconciled);
        Assert.Equal([2L], resolution.Forget);
        var paired = Assert.Single(resolution.Rows, r => r.Id == 1);
        Assert.Equal((uint)10, paired.UidB);
        Assert.Equal(SyncState.Paired, paired.State);
        Assert.Equal([6u], SyncPlanner.Unclaimed(resolution.Rows, a, Side.A));
    }

    [Theory]
    [InlineData(SyncState.Expunging, false)]
    [InlineData(SyncState.Expunging, true)]
    [InlineData(SyncState.Moving, false)]
    [InlineData(SyncState.Moving, true)]
    public void An_expunge_or_move_interrupted_after_its_own_Deleted_store_is_expunged_again_not_taken_for_a_conflict(SyncState state, bool mirrored)
    {
        // A expunged the message (or moved it to a folder whose pair now holds B's COPY); the run
        // marked B's copy \Deleted (STORE), then died before UID EXPUNGE.
        var (gone, keep) = mirrored ? (Side.B, Side.A) : (Side.A, Side.B);
        var date = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds();
        var row = new SyncRow(1, 7, 7, state, keep, "<m@x>", date, 100, 100, "\\Seen", "\\Seen");
        var empty = new SideView(0, new HashSet<uint>(), new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
        var marked = new SideView(1, new HashSet<uint> { 7 }, new Dictionary<uint, string> { [7] = "\\Deleted \\Seen" }, new Dictionary<uint, MessageInfo>());
        var views = mirrored ? new Sides<SideView>(marked, empty) : new Sides<SideView>(empty, marked);

        var resolution = SyncPlanner.Resolve([row], views, new(false, false), retryFailed: false);
        var plan = SyncPlanner.Plan(new("INBOX", "INBOX"), resolution.Rows, views);
        // The folder is now empty on the side that expunged it, which the guard holds for a new
        // deletion; one an interrupted run had decided on goes ahead.
        SyncPlanner.ApplyGuard(plan, views, new SyncPolicy());

        Assert.Equal(1, Assert.Single(plan.Expunge[keep]).Id);
        Assert.Null(plan.Held[keep]);
        Assert.Empty(plan.Recopy[gone]);
        Assert.Empty(plan.Append[gone]);

        // The same \Deleted on a row not in flight is the user's: expunged on one side while the
        // flags changed on the other, a conflict as the table says.
        var paired = SyncPlanner.Plan(new("INBOX", "INBOX"), [row with { State = SyncState.Paired, Toward = null }], views);
        Assert.Single(paired.Recopy[gone]);
        Assert.Empty(paired.Expunge[keep]);
    }

    private static readonly DateTimeOffset Date = new(2024, 3, 4, 5, 6, 7, TimeSpan.Zero);

    /// <summary>One message in one folder pair, as the row's columns say; mirrored swaps A and B throughout.</summary>
    private static PairPlan PlanOne(string ledger, string a, string b, bool mirrored)
    {
        var rows = new List<SyncRow>();
        var (nowA, nowB) = mirrored ? (b, a) : (a, b);
        if (ledger != "-")
        {
            SyncRow row;
            if (ledger.StartsWith("failed→", StringComparison.Ordinal))
                row = new SyncRow(1, 1, null, SyncState.Failed, Side.B, "<m@x>", Date.ToUnixTimeSeconds(), 100, 0, "S", "", LastError: "refused");
            else if (ledger.StartsWith("kept on ", StringComparison.Ordinal))
                row = new SyncRow(1, null, 1, SyncState.Paired, null, "<m@x>", Date.ToUnixTimeSeconds(), 100, 100, "", "S");
            else
            {
                var parts = ledger.Split('|');
                row = new SyncRow(1, 1, 1, SyncState.Paired, null, "<m@x>", Date.ToUnixTimeSeconds(), 100, 100, Flags(parts[0]), Flags(parts[1]));
            }

            if (mirrored)
                row = row with { UidA = row.UidB, UidB = row.UidA, FlagsA = row.FlagsB, FlagsB = row.FlagsA, SizeA = row.SizeB, SizeB = row.SizeA, Toward = row.Toward?.Other() };
            rows.Add(row);
        }

        var views = new Sides<SideView>(View(nowA), View(nowB));
        var plan = SyncPlanner.Plan(new("INBOX", "INBOX"), rows, views);
        SyncPlanner.ApplyGuard(plan, views, new SyncPolicy { Guard = new DeletionGuardSettings(1000, 100) });
        return plan;
    }

    private static SideView View(string now)
    {
        if (now == "-")
            return new SideView(1, new HashSet<uint>(), new Dictionary<uint, string>(), new Dictionary<uint, MessageInfo>());
        var (flags, keywords) = FlagText.Parse(Flags(now));
        var message = new MessageInfo(1, 100, Date, flags, keywords, "<m@x>");
        return new SideView(1, new HashSet<uint> { 1 }, new Dictionary<uint, string> { [1] = Flags(now) }, new Dictionary<uint, MessageInfo> { [1] = message });
    }

    /// <summary>"S F $x" → "\Seen \Flagged $x" in the ledger's spelling.</summary>
    private static string Flags(string shorthand)
    {
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        foreach (var token in shorthand.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            switch (token)
            {
                case "S": flags |= MessageFlags.Seen; break;
                case "F": flags |= MessageFlags.Flagged; break;
                case "A": flags |= MessageFlags.Answered; break;
                default: keywords.Add(token); break;
            }
        }

        return FlagText.Format(flags, keywords);
    }

    private static string Short(FlagChange change)
    {
        static string Letters(MessageFlags f) => string.Concat(
            (f.HasFlag(MessageFlags.Answered) ? "A" : ""), (f.HasFlag(MessageFlags.Flagged) ? "F" : ""), (f.HasFlag(MessageFlags.Seen) ? "S" : ""));
        var parts = new List<string>();
        if (change.Add != MessageFlags.None || change.AddKeywords.Count > 0)
            parts.Add("+" + Letters(change.Add) + string.Join("", change.AddKeywords));
        if (change.Remove != MessageFlags.None || change.RemoveKeywords.Count > 0)
            parts.Add("-" + Letters(change.Remove) + string.Join("", change.RemoveKeywords));
        return string.Join(" ", parts);
    }

    /// <summary>The plan in the table's words.</summary>
    private static string Describe(PairPlan plan)
    {
        var parts = new List<string>();
        if (plan.NewPairs.Count > 0) parts.Add("pair");
        foreach (var side in new[] { Side.A, Side.B })
        {
            foreach (var (_, change) in plan.Store[side])
                parts.Add($"store {side} {Short(change)}");
        }

        foreach (var side in new[] { Side.A, Side.B })
        {
            if (plan.Append[side].Count > 0) parts.Add($"append→{side}");
            if (plan.Expunge[side].Count > 0) parts.Add($"expunge {side}");
            if (plan.Recopy[side].Count > 0) parts.Add($"recopy→{side}");
        }

        if (plan.Forget.Count > 0) parts.Add("forget");
        if (plan.EarlierFailures.Count > 0) parts.Add("earlier failure");
        if (parts.Count == 0 && plan.Updated.Count > 0) parts.Add("update");
        return parts.Count == 0 ? "none" : string.Join("; ", parts);
    }

    private static string Mirror(string expected)
    {
        var swapped = expected.Replace("→A", "→§").Replace("→B", "→A").Replace("→§", "→B")
            .Replace(" A ", " § ").Replace(" B ", " A ").Replace(" § ", " B ");
        if (swapped.EndsWith(" A", StringComparison.Ordinal)) swapped = swapped[..^2] + " §";
        if (swapped.EndsWith(" B", StringComparison.Ordinal)) swapped = swapped[..^2] + " A";
        swapped = swapped.Replace(" §", " B");
        // Stores are listed A first: re-order after the swap.
        var parts = swapped.Split("; ").ToList();
        var stores = parts.Where(p => p.StartsWith("store ", StringComparison.Ordinal)).OrderBy(p => p, StringComparer.Ordinal).ToList();
        var rest = parts.Where(p => !p.StartsWith("store ", StringComparison.Ordinal)).ToList();
        var pair = rest.Remove("pair");
        return string.Join("; ", (pair ? new[] { "pair" } : []).Concat(stores).Concat(rest));
    }
}
