using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Model;
using MailSync.Core.Sync.TwoWay;
using Xunit.Abstractions;

namespace MailSync.Engine.Tests;

/// <summary>
/// Two-way sync scenarios between two in-memory servers, each run five ways (mbsync's way, on a
/// side-indexed engine): (1) uninterrupted: the end state is checked against what the scenario
/// says; (2) both sides end equal (same folders, same messages with the same bytes, flags and
/// dates), unless the scenario holds something back on purpose; (3) one more run writes nothing;
/// (4) stopped just before and just after each side effect k = 1..n and resumed by a fresh run:
/// the end state equals (1) and the next run writes nothing; (5) with the servers' roles swapped
/// (the first server as side B): the same end state, which only a side-symmetric engine gives.
/// Seeds and changes are made on the servers directly, never through MailSync.
/// </summary>
public sealed class SyncScenarioTests(ITestOutputHelper output)
{
    /// <param name="Seed">Makes both servers' first state (one, two).</param>
    /// <param name="Change">When set, the measured run is the second: after a complete first sync, this changes the servers.</param>
    /// <param name="Check">Asserts the end state of the uninterrupted run (one, two, the run's result).</param>
    /// <param name="SidesDiffer">The end states may differ on purpose (held deletions, deletions "keep").</param>
    public sealed record Scenario(
        string Name,
        Action<InMemoryServer, InMemoryServer> Seed,
        Action<InMemoryServer, InMemoryServer>? Change,
        Action<InMemoryServer, InMemoryServer, JobResult> Check,
        SyncPolicy? Policy = null,
        bool SidesDiffer = false)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Scenario> Scenarios() =>
    [
        new("first sync of two full mailboxes: the same mail is paired by content (twins one to one, no Message-ID by header block), the rest goes both ways, flags united",
            SeedOverlapping, null, (one, two, result) =>
            {
                Assert.Equal(5, one.Folders["INBOX"].Messages.Count);
                Assert.Equal(5, one.Folders["Archive"].Messages.Count);
                Assert.Single(one.Folders["Projects"].Messages);
                var m1 = one.Folders["INBOX"].Messages.Single(m => Text(m).Contains("message 1\r\n", StringComparison.Ordinal));
                Assert.Equal(MessageFlags.Seen, m1.Flags);
                Assert.Contains("$Label1", m1.Keywords);
                Assert.Equal(4, result.Folders.Sum(f => f.Sync!.PairedByContent));
            }),
        new("after a sync: new mail on both sides, flags and keywords changed on both sides, one message changed on both",
            SeedTree, ChangeFlagsAndMail, (one, _, _) =>
            {
                var inbox = one.Folders["INBOX"].Messages;
                Assert.Equal(9, inbox.Count);
                Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, inbox.Single(m => Text(m).Contains("message 0\r\n", StringComparison.Ordinal)).Flags);
                var m1 = inbox.Single(m => Text(m).Contains("message 1\r\n", StringComparison.Ordinal));
                Assert.Equal(MessageFlags.Answered, m1.Flags);
                Assert.Equal(["urgent"], m1.Keywords.ToList());
                Assert.Empty(inbox.Single(m => Text(m).Contains("message 3\r\n", StringComparison.Ordinal)).Keywords);
            }),
        new("after a sync: expunged on either side goes from the other; expunged on one side while its flags changed on the other is kept and copied back",
            SeedTree, ChangeExpunges, (one, _, result) =>
            {
                Assert.Equal(3, one.Folders["INBOX"].Messages.Count);
                Assert.Contains(one.Folders["INBOX"].Messages, m => Text(m).Contains("message 4\r\n", StringComparison.Ordinal) && m.Flags.HasFlag(MessageFlags.Flagged));
                Assert.Equal(2, one.Folders["Archive/2020"].Messages.Count);
                Assert.Equal(1, result.Folders.Sum(f => f.Sync!.Conflicts));
            }),
        new("after a sync: moved between folders on either side is moved the same way on the other, with its flags, not copied again",
            SeedTree, ChangeMoves, (one, two, result) =>
            {
                Assert.Equal(2, one.Folders["INBOX"].Messages.Count);
                Assert.Equal(7, one.Folders["Archive"].Messages.Count);
                Assert.True(3 == result.Folders.Sum(f => f.Sync!.MovedOnA + f.Sync.MovedOnB), string.Join("; ", result.Folders.Select(f => $"{f.SourceFolder}: moved {f.Sync!.MovedOnA}/{f.Sync.MovedOnB} appended {f.Sync.AppendedToA}/{f.Sync.AppendedToB} deleted {f.Sync.DeletedOnA}/{f.Sync.DeletedOnB}")) + string.Join("; ", result.Warnings));
                Assert.Equal(0, result.Appended);
                Assert.Contains(two.Folders["Archive"].Messages, m => Text(m).Contains("message 0\r\n", StringComparison.Ordinal) && m.Flags == (MessageFlags.Seen | MessageFlags.Flagged));
            }),
        new("after a sync, sides without MOVE: moves are made as COPY, \\Deleted and UID EXPUNGE, each step interruptible",
            (one, two) => { SeedTree(one, two); one.Move = two.Move = false; }, ChangeMoves, (one, two, result) =>
            {
                Assert.Equal(2, one.Folders["INBOX"].Messages.Count);
                Assert.Equal(7, one.Folders["Archive"].Messages.Count);
                Assert.Equal(0, result.Appended);
                Assert.All(two.Folders.Values.SelectMany(f => f.Messages), m => Assert.False(m.Flags.HasFlag(MessageFlags.Deleted)));
            }),
        new("after a sync: new folders on both sides (one nested, one with mail) are created on the other; an empty folder deleted on one side is deleted on the other",
            SeedTree, ChangeFolders, (one, two, _) =>
            {
                Assert.True(one.Folders.ContainsKey("Lists/Dev"));
                Assert.Equal(2, one.Folders["Lists/Dev"].Messages.Count);
                Assert.True(two.Folders.ContainsKey("Notes"));
                Assert.False(one.Folders.ContainsKey("Empty"));
                Assert.False(two.Folders.ContainsKey("Empty"));
            }),
        new("after a sync: a folder renamed on one side, with the folder under it, is renamed on the other: nothing copied, moved or deleted",
            (one, two) => { SeedTree(one, two); SeedLists(one, two); }, (one, _) => one.Rename("Lists", "Mailing lists"), (one, two, result) =>
            {
                Assert.Equal(2, two.Folders["Mailing lists"].Messages.Count);
                Assert.Equal(2, two.Folders["Mailing lists/Dev"].Messages.Count);
                Assert.False(two.Folders.ContainsKey("Lists"));
                Assert.Equal(0, result.Appended);
                Assert.Equal(0, result.Folders.Sum(f => f.Sync!.Writes));
                Assert.Contains(result.Folders, f => f.Sync!.FolderChange?.StartsWith("renamed on", StringComparison.Ordinal) == true);
            }),
        new("after a sync: a folder moved under a new parent on one side is renamed on the other (the parent created there)",
            (one, two) => { SeedTree(one, two); SeedLists(one, two); }, (one, _) => { one.Add("Old"); one.Rename("Lists/Dev", "Old/Dev"); }, (one, two, result) =>
            {
                Assert.Equal(2, two.Folders["Old/Dev"].Messages.Count);
                Assert.False(two.Folders.ContainsKey("Lists/Dev"));
                Assert.Equal(0, result.Appended);
            }),
        new("after a sync: a role folder renamed on one side still maps onto the other side's role folder: only the ledger's name changes",
            SeedTree, (one, _) => one.Rename("Archive", "Old mail"), (one, two, result) =>
            {
                Assert.Equal(4, two.Folders["Archive"].Messages.Count);
                Assert.Equal(3, two.Folders["Archive/2020"].Messages.Count);
                Assert.Equal(4, one.Folders["Old mail"].Messages.Count);
                Assert.Equal(0, result.Appended);
            }, SidesDiffer: true),
        new("after a sync: a folder unsubscribed on one side and another subscribed on the other: the same on the opposite side",
            (one, two) => { SeedTree(one, two); two.Folders["Empty"].Subscribed = one.Folders["Empty"].Subscribed = false; },
            (one, two) => { one.Folders["Archive/2020"].Subscribed = false; two.Folders["Empty"].Subscribed = true; }, (one, two, _) =>
            {
                Assert.False(two.Folders["Archive/2020"].Subscribed);
                Assert.True(one.Folders["Empty"].Subscribed);
            }),
        new("after a sync: a folder deleted on one side while it holds mail on the other is held: nothing deleted, reported",
            SeedTree, (one, _) => one.Folders.Remove("Archive/2020"), (one, two, result) =>
            {
                Assert.Equal(3, two.Folders["Archive/2020"].Messages.Count);
                Assert.False(one.Folders.ContainsKey("Archive/2020"));
                Assert.Contains(result.Folders, f => f.Sync!.HeldReason is not null);
            }, SidesDiffer: true),
        new("after a sync: a folder deleted on one side, deletions allowed: its copies are expunged and the folder deleted on the other",
            SeedTree, (one, _) => one.Folders.Remove("Archive/2020"), (one, two, _) =>
            {
                Assert.False(two.Folders.ContainsKey("Archive/2020"));
                Assert.False(one.Folders.ContainsKey("Archive/2020"));
            }, new SyncPolicy { AllowDeletions = new HashSet<string> { "all" } }),
        new("after a sync: 60 of 70 messages expunged on one side: held by the mass-delete guard, nothing deleted on the other",
            SeedBig, (one, _) => one.Folders["Bulk"].Expunge(one.Folders["Bulk"].Messages.Take(60).Select(m => m.Uid).ToList()), (one, two, result) =>
            {
                Assert.Equal(70, two.Folders["Bulk"].Messages.Count);
                Assert.Equal(60, result.Folders.Sum(f => f.Sync!.HeldOnA + f.Sync.HeldOnB));
            }, SidesDiffer: true),
        new("after a sync: deletions \"keep\": a message expunged on one side stays on the other and is not copied back",
            SeedTree, (one, _) => one.Folders["INBOX"].Expunge([one.Folders["INBOX"].Messages[0].Uid]), (one, two, _) =>
            {
                Assert.Equal(4, one.Folders["INBOX"].Messages.Count);
                Assert.Equal(5, two.Folders["INBOX"].Messages.Count);
            }, new SyncPolicy { Deletions = DeletionMode.Keep }, SidesDiffer: true),
        new("after a sync, side without UIDPLUS: new mail both ways is found by content instead of APPENDUID; its deletions are held, not made with a plain EXPUNGE",
            (one, two) => { SeedTree(one, two); two.UidPlus = false; }, (one, two) => { ChangeFlagsAndMail(one, two); one.Folders["Archive/2020"].Expunge([Find(one, "Archive/2020", 20).Uid]); },
            (one, two, result) =>
            {
                Assert.Equal(9, two.Folders["INBOX"].Messages.Count);
                Assert.Equal(3, two.Folders["Archive/2020"].Messages.Count);
                Assert.Contains(result.Folders, f => f.Sync!.HeldReason?.Contains("UIDPLUS", StringComparison.Ordinal) == true);
            }, SidesDiffer: true),
        new("after a sync: a message one side refuses is recorded with the reason, the rest goes both ways, and the next run does not try it again",
            (one, two) => { SeedTree(one, two); two.RefuseContaining = "message 31"; }, ChangeFlagsAndMail,
            (one, two, result) =>
            {
                Assert.Equal(9, one.Folders["INBOX"].Messages.Count);
                Assert.Equal(8, two.Folders["INBOX"].Messages.Count);
                Assert.Contains(result.Failures, f => f.Reason.Contains("does not take messages with message 31", StringComparison.Ordinal));
            }, SidesDiffer: true),
        new("after a sync: one side renumbered a folder (new UIDVALIDITY), and both sides changed: paired again by content, nothing copied twice",
            SeedTree, (one, two) => { ChangeFlagsAndMail(one, two); two.Renumber("Archive"); }, (one, _, _) =>
            {
                Assert.Equal(4, one.Folders["Archive"].Messages.Count);
                Assert.Equal(9, one.Folders["INBOX"].Messages.Count);
            }),
    ];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Each_scenario_ends_as_it_says_on_both_sides_mirrored_rerun_idle_and_interrupted_at_every_side_effect(Scenario scenario)
    {
        var reference = await RunAsync(scenario, mirrored: false, 0, 0);
        // A scenario that holds everything back writes nothing, which is its point.
        Assert.True(scenario.SidesDiffer || reference.SideEffects > 0, "the scenario has nothing to do");
        scenario.Check(reference.One, reference.Two, reference.Result);
        if (!scenario.SidesDiffer)
            AssertSame("the two sides", reference.SnapshotOne, reference.SnapshotTwo);
        Assert.Equal(0, reference.RerunSideEffects);
        // Held deletions are reported by every run until confirmed, never forgotten by the next one.
        Assert.Equal(reference.Result.Folders.Count(f => f.Sync!.HeldReason is not null), reference.Rerun.Folders.Count(f => f.Sync!.HeldReason is not null));

        var mirrored = await RunAsync(scenario, mirrored: true, 0, 0);
        AssertSame("mirrored (first server as side B): first server", reference.SnapshotOne, mirrored.SnapshotOne);
        AssertSame("mirrored: second server", reference.SnapshotTwo, mirrored.SnapshotTwo);
        Assert.Equal(reference.SideEffects, mirrored.SideEffects);
        Assert.Equal(0, mirrored.RerunSideEffects);

        var runs = 0;
        foreach (var mirror in new[] { false, true })
        {
            for (var k = 1; k <= reference.SideEffects; k++)
            {
                foreach (var before in new[] { true, false })
                {
                    var interrupted = await RunAsync(scenario, mirror, before ? k : 0, before ? 0 : k);
                    var what = $"{(mirror ? "mirrored, " : "")}stopped {(before ? "before" : "after")} side effect {k}";
                    Assert.True(interrupted.Crashed, $"{what}: never happened");
                    AssertSame($"{what} and resumed: first server", reference.SnapshotOne, interrupted.SnapshotOne);
                    AssertSame($"{what} and resumed: second server", reference.SnapshotTwo, interrupted.SnapshotTwo);
                    Assert.Equal(0, interrupted.RerunSideEffects);
                    runs++;
                }
            }
        }

        output.WriteLine($"{scenario}: {reference.SideEffects} side effects; {runs} interrupted runs (both orientations) resumed to the reference end state");
    }

    private static void AssertSame(string what, List<string> expected, List<string> actual)
        => Assert.True(expected.SequenceEqual(actual),
            $"{what} differs:\n  expected: {string.Join("\n            ", expected)}\n  actual:   {string.Join("\n            ", actual)}");

    private sealed record Outcome(
        int SideEffects, bool Crashed, InMemoryServer One, InMemoryServer Two, List<string> SnapshotOne, List<string> SnapshotTwo, int RerunSideEffects, JobResult Result,
        JobResult Rerun);

    private static async Task<Outcome> RunAsync(Scenario scenario, bool mirrored, int crashBefore, int crashAfter)
    {
        try
        {
            return await RunCoreAsync(scenario, mirrored, crashBefore, crashAfter);
        }
        catch (Exception ex) when (ex is not SimulatedCrash and not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{(mirrored ? "mirrored, " : "")}stopped before {crashBefore} / after {crashAfter}: {ex.Message}", ex);
        }
    }

    private static async Task<Outcome> RunCoreAsync(Scenario scenario, bool mirrored, int crashBefore, int crashAfter)
    {
        var faults = new Faults();
        var one = new InMemoryServer("one", faults);
        var two = new InMemoryServer("two", faults);
        scenario.Seed(one, two);
        var (a, b) = mirrored ? (two, one) : (one, two);
        using var ledger = new EngineRun.TempLedger();
        if (scenario.Change is { } change)
        {
            await EngineRun.SyncAsync(a, b, ledger.Path, scenario.Policy);
            change(one, two);
            faults.Restart();
        }

        faults.CrashBefore = crashBefore;
        faults.CrashAfter = crashAfter;
        var crashed = false;
        JobResult? result = null;
        try
        {
            result = await EngineRun.SyncAsync(a, b, ledger.Path, scenario.Policy);
        }
        catch (SimulatedCrash)
        {
            crashed = true;
        }

        var sideEffects = faults.Count;
        if (crashed)
        {
            faults.Restart();
            result = await EngineRun.SyncAsync(a, b, ledger.Path, scenario.Policy);
        }

        faults.Restart();
        var rerun = await EngineRun.SyncAsync(a, b, ledger.Path, scenario.Policy);
        return new Outcome(sideEffects, crashed, one, two, one.Snapshot(), two.Snapshot(), faults.Count, result!, rerun);
    }

    private static readonly DateTimeOffset Start = Seeds.Start;

    /// <summary>The same tree on both servers, as two accounts already in step would hold it (seeded on each directly), plus an empty folder.</summary>
    private static void SeedTree(InMemoryServer one, InMemoryServer two)
    {
        foreach (var server in new[] { one, two })
        {
            Seeds.Tree(server);
            server.Add("Empty");
        }
    }

    /// <summary>A plain (no role) folder with a plain folder under it, on both servers.</summary>
    private static void SeedLists(InMemoryServer one, InMemoryServer two)
    {
        foreach (var server in new[] { one, two })
        {
            var lists = server.Add("Lists");
            lists.Append(Message(70), MessageFlags.None, [], Start.AddDays(70));
            lists.Append(Message(71), MessageFlags.Seen, [], Start.AddDays(71));
            var dev = server.Add("Lists/Dev");
            dev.Append(Message(72), MessageFlags.None, ["$Label3"], Start.AddDays(72));
            dev.Append(Message(73), MessageFlags.Seen, [], Start.AddDays(73));
        }
    }

    /// <summary>Two accounts that share some mail (with other flags on each side) and each hold some of their own.</summary>
    private static void SeedOverlapping(InMemoryServer one, InMemoryServer two)
    {
        var inbox1 = one.Folders["INBOX"];
        inbox1.Append(Message(1), MessageFlags.Seen, [], Start.AddHours(1));
        inbox1.Append(Message(2), MessageFlags.None, [], Start.AddHours(2));
        inbox1.Append(Message(3), MessageFlags.Flagged, ["work"], Start.AddHours(3));
        var archive1 = one.Add("Archive");
        archive1.Append(Message(10), MessageFlags.Seen, [], Start.AddDays(1));
        archive1.Append(Message(10), MessageFlags.Seen, [], Start.AddDays(1));
        archive1.Append(Encoding.ASCII.GetBytes(" no header block\r\njust text\r\n"), MessageFlags.None, [], Start.AddDays(2));
        archive1.Append(Message(11, messageId: false), MessageFlags.None, [], Start.AddDays(3));

        var inbox2 = two.Folders["INBOX"];
        inbox2.Append(Message(1), MessageFlags.None, ["$Label1"], Start.AddHours(1));
        inbox2.Append(Message(2), MessageFlags.Answered, [], Start.AddHours(2));
        inbox2.Append(Message(4), MessageFlags.None, [], Start.AddHours(4));
        inbox2.Append(Message(5, messageId: false), MessageFlags.None, [], Start.AddHours(5));
        var archive2 = two.Add("Archive");
        archive2.Append(Message(10), MessageFlags.None, [], Start.AddDays(1));
        archive2.Append(Encoding.ASCII.GetBytes(" no header block\r\njust text\r\n"), MessageFlags.Seen, [], Start.AddDays(2));
        // Same date and size as message 11 but other bytes: must not be taken for it.
        archive2.Append(Message(12, messageId: false), MessageFlags.None, [], Start.AddDays(3));
        two.Add("Projects").Append(Message(20), MessageFlags.None, [], Start.AddDays(20));
    }

    private static void SeedBig(InMemoryServer one, InMemoryServer two)
    {
        foreach (var server in new[] { one, two })
        {
            var bulk = server.Add("Bulk");
            for (var i = 0; i < 70; i++)
                bulk.Append(Message(100 + i), MessageFlags.Seen, [], Start.AddMinutes(i));
        }
    }

    private static InMemoryServer.Message Find(InMemoryServer server, string folder, int n)
        => server.Folders[folder].Messages.Single(m => Text(m).Contains($"message {n}\r\n", StringComparison.Ordinal));

    private static void ChangeFlagsAndMail(InMemoryServer one, InMemoryServer two)
    {
        var inbox1 = one.Folders["INBOX"];
        var inbox2 = two.Folders["INBOX"];
        for (var i = 30; i < 32; i++)
            inbox1.Append(Message(i), MessageFlags.None, [], Start.AddDays(i));
        for (var i = 40; i < 42; i++)
            inbox2.Append(Message(i), MessageFlags.Seen, ["$Label2"], Start.AddDays(i));
        // message 0: one flags it (Seen stays); message 1: one answers it, two adds a keyword; message 3: two drops its keyword.
        inbox1.SetFlags(Find(one, "INBOX", 0).Uid, MessageFlags.Seen | MessageFlags.Flagged, []);
        inbox1.SetFlags(Find(one, "INBOX", 1).Uid, MessageFlags.Answered, []);
        inbox2.SetFlags(Find(two, "INBOX", 1).Uid, MessageFlags.None, ["urgent"]);
        inbox2.SetFlags(Find(two, "INBOX", 3).Uid, MessageFlags.None, []);
    }

    private static void ChangeExpunges(InMemoryServer one, InMemoryServer two)
    {
        one.Folders["INBOX"].Expunge([Find(one, "INBOX", 0).Uid, Find(one, "INBOX", 4).Uid]);
        // Expunged on one, flagged on two meanwhile: a conflict, kept.
        two.Folders["INBOX"].SetFlags(Find(two, "INBOX", 4).Uid, MessageFlags.Flagged, []);
        two.Folders["INBOX"].Expunge([Find(two, "INBOX", 2).Uid]);
        two.Folders["Archive/2020"].Expunge([Find(two, "Archive/2020", 21).Uid]);
    }

    private static void ChangeMoves(InMemoryServer one, InMemoryServer two)
    {
        // One moves messages 0 and 1 into Archive (and flags 0 there); two moves message 22 from Archive/2020 into INBOX... and 2 into Archive.
        var moved = one.Folders["INBOX"].MoveTo(Find(one, "INBOX", 0).Uid, one.Folders["Archive"]);
        one.Folders["Archive"].SetFlags(moved, MessageFlags.Seen | MessageFlags.Flagged, []);
        one.Folders["INBOX"].MoveTo(Find(one, "INBOX", 1).Uid, one.Folders["Archive"]);
        two.Folders["INBOX"].MoveTo(Find(two, "INBOX", 2).Uid, two.Folders["Archive"]);
    }

    private static void ChangeFolders(InMemoryServer one, InMemoryServer two)
    {
        one.Add("Lists");
        var dev = one.Add("Lists/Dev");
        dev.Append(Message(50), MessageFlags.None, [], Start.AddDays(50));
        dev.Append(Message(51), MessageFlags.Seen, [], Start.AddDays(51));
        two.Add("Notes").Append(Message(60), MessageFlags.Draft, [], Start.AddDays(60));
        one.Folders.Remove("Empty");
    }

    private static string Text(InMemoryServer.Message m) => Encoding.ASCII.GetString(m.Bytes);

    private static byte[] Message(int n, bool messageId = true) => Seeds.Message(n, messageId);
}
