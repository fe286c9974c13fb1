using System.Text;
using MailKit;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Sync;
using Xunit.Abstractions;

namespace MailSync.Engine.Tests;

/// <summary>
/// mbsync's way of testing a sync engine, on migrate (the engine's one-way policy): every scenario runs once
/// uninterrupted (the reference end state), then once more stopped just before and just after each
/// of its side effects k = 1..n (as a killed process would be: the ledger keeps what it committed,
/// the servers what they did), then resumed by a fresh run. The resumed end state must equal the
/// reference (no message lost, none duplicated, flags and dates as in the reference), and one more
/// run must make no change at all.
/// </summary>
public sealed class InterruptEveryStepTests(ITestOutputHelper output)
{
    /// <param name="ChangeAfterFirstRun">When set, the measured run is the second: after a complete first run, this changes (source, target).</param>
    /// <param name="Target">Sets up how the target server behaves.</param>
    /// <param name="Renames">The job's folder renames (source folder → target folder).</param>
    public sealed record Scenario(
        string Name, Action<InMemoryServer> Seed, Action<InMemoryServer, InMemoryServer>? ChangeAfterFirstRun, int BatchMessages, Action<InMemoryServer>? Target = null,
        Dictionary<string, string>? Renames = null)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Scenario> Scenarios() =>
    [
        new Scenario("first copy: nested folders, identical twins, no Message-ID, keywords; batches of 3", SeedTree, null, 3),
        new Scenario("first copy, one message per APPEND", SeedTree, null, 1),
        new Scenario("second run: new mail, a new folder, flag and keyword changes", SeedTree, (source, _) => ChangeSource(source), 3),
        new Scenario("first copy to a target without UIDPLUS: new UIDs, twins included, found by content", SeedTree, null, 3, t => t.UidPlus = false),
        new Scenario("first copy with a message the target refuses: recorded as failed, the rest copied", SeedTree, null, 3, t => t.RefuseContaining = "message 21"),
        new Scenario("second run after the target renumbered a folder (new UIDVALIDITY): copies found again, nothing copied twice",
            SeedTree, (source, target) => { ChangeSource(source); target.Renumber("Archive"); }, 3),
        new Scenario("first copy into a target that already holds some of it (a twin, a message without header block) and one of its own",
            SeedTree, null, 3, PreSeedTarget),
        new Scenario("first copy of two source folders merged into one target folder by a rename, with a twin across them; one message per APPEND",
            SeedMerged, null, 1, null, new Dictionary<string, string> { ["Older"] = "Archive" }),
        new Scenario("two source folders merged into one target folder by a rename, with a twin across them; then new mail in both",
            SeedMerged, (source, _) => ChangeMerged(source), 2, null, new Dictionary<string, string> { ["Older"] = "Archive" }),
    ];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Stopped_before_or_after_any_side_effect_and_resumed_it_ends_as_the_uninterrupted_run(Scenario scenario)
    {
        var reference = await RunScenarioAsync(scenario, crashBefore: 0, crashAfter: 0);
        Assert.True(reference.SideEffects > 0, "the scenario has nothing to do");
        Assert.Equal(0, reference.RerunSideEffects);
        // The reference copies everything the target takes: each source message once, as it is,
        // beside what the target held of its own.
        var refused = scenario.Name.Contains("refuses", StringComparison.Ordinal) ? 1 : 0;
        var ownOnTarget = scenario.Name.Contains("one of its own", StringComparison.Ordinal) ? 1 : 0;
        // A merged folder's messages are on the target under the folder they were renamed onto.
        var messagesOnSource = reference.Source.Where(l => !l.EndsWith("|subscribed", StringComparison.Ordinal))
            .Select(l => scenario.Renames?.FirstOrDefault(r => l.StartsWith(r.Key + "|", StringComparison.Ordinal)) is { Key: not null } r ? r.Value + l[r.Key.Length..] : l)
            .ToList();
        var messagesOnTarget = reference.Target.Where(l => !l.EndsWith("|subscribed", StringComparison.Ordinal)).ToList();
        var notFromSource = messagesOnTarget.ToList();
        foreach (var line in messagesOnSource)
            notFromSource.Remove(line);
        Assert.Equal(ownOnTarget, notFromSource.Count);
        Assert.Equal(messagesOnSource.Count - refused, messagesOnTarget.Count - ownOnTarget);

        var runs = 0;
        for (var k = 1; k <= reference.SideEffects; k++)
        {
            foreach (var before in new[] { true, false })
            {
                var interrupted = await RunScenarioAsync(scenario, before ? k : 0, before ? 0 : k);
                Assert.True(interrupted.Crashed, $"{scenario}: stopping {(before ? "before" : "after")} side effect {k} never happened");
                Assert.True(reference.Target.SequenceEqual(interrupted.Target),
                    $"{scenario}: stopped {(before ? "before" : "after")} side effect {k} and resumed, the target differs:\n  reference: {string.Join("\n             ", reference.Target)}\n  resumed:   {string.Join("\n             ", interrupted.Target)}");
                Assert.Equal(0, interrupted.RerunSideEffects);
                runs++;
            }
        }

        output.WriteLine($"{scenario}: {reference.SideEffects} side effects, {runs} interrupted runs resumed to the reference end state");
    }

    private sealed record Outcome(int SideEffects, bool Crashed, List<string> Source, List<string> Target, int RerunSideEffects);

    /// <summary>
    /// Seeds fresh servers, runs the scenario's measured run (after a complete first run and the
    /// change, if it has one) stopped as asked, then resumes and runs once more.
    /// </summary>
    private static async Task<Outcome> RunScenarioAsync(Scenario scenario, int crashBefore, int crashAfter)
    {
        var faults = new Faults();
        var source = new InMemoryServer("source", faults);
        var target = new InMemoryServer("target", faults);
        scenario.Seed(source);
        scenario.Target?.Invoke(target);
        using var ledger = new EngineRun.TempLedger();
        var ledgerPath = ledger.Path;
        {
            if (scenario.ChangeAfterFirstRun is { } change)
            {
                await RunAsync(source, target, ledgerPath, scenario);
                change(source, target);
                faults.Restart();
            }

            faults.CrashBefore = crashBefore;
            faults.CrashAfter = crashAfter;
            var crashed = false;
            try
            {
                await RunAsync(source, target, ledgerPath, scenario);
            }
            catch (SimulatedCrash)
            {
                crashed = true;
            }

            var sideEffects = faults.Count;
            if (crashed)
            {
                faults.Restart();
                await RunAsync(source, target, ledgerPath, scenario);
            }

            faults.Restart();
            await RunAsync(source, target, ledgerPath, scenario);
            return new Outcome(sideEffects, crashed, source.Snapshot(), target.Snapshot(), faults.Count);
        }
    }

    private static Task RunAsync(InMemoryServer source, InMemoryServer target, string ledgerPath, Scenario scenario)
        => EngineRun.RunAsync(source, target, ledgerPath, new MigrationOptions { BatchMessages = scenario.BatchMessages },
            scenario.Renames is { } renames ? new FolderMappingOptions([], [], renames, null) : null);

    private static readonly DateTimeOffset Start = Seeds.Start;

    private static void SeedTree(InMemoryServer server) => Seeds.Tree(server);

    /// <summary>What a target held before the job: two INBOX messages, one of the Archive twins and the message without a header block, each as the source has it, and a message of its own.</summary>
    private static void PreSeedTarget(InMemoryServer server)
    {
        var inbox = server.Folders["INBOX"];
        inbox.Append(Message(0), MessageFlags.Seen, [], Start);
        inbox.Append(Message(1), MessageFlags.None, [], Start.AddHours(1));
        inbox.Append(Message(99), MessageFlags.None, [], Start.AddDays(99));
        var archive = server.Add("Archive", SpecialUse.Archive);
        archive.Append(Message(10), MessageFlags.Seen, [], Start.AddDays(1));
        archive.Append(Encoding.ASCII.GetBytes(" no header block\r\njust text\r\n"), MessageFlags.None, [], Start.AddDays(2));
    }

    /// <summary>The tree, plus "Older" (renamed onto Archive by the job): a twin of an Archive message (same bytes, same date), one without Message-ID, one of its own.</summary>
    private static void SeedMerged(InMemoryServer server)
    {
        Seeds.Tree(server);
        var older = server.Add("Older");
        older.Append(Message(10), MessageFlags.None, [], Start.AddDays(1));
        older.Append(Message(12, messageId: false), MessageFlags.Seen, [], Start.AddDays(4));
        older.Append(Message(13), MessageFlags.Answered, ["old"], Start.AddDays(5));
    }

    private static void ChangeMerged(InMemoryServer server)
    {
        server.Folders["Archive"].Append(Message(14), MessageFlags.None, [], Start.AddDays(6));
        var older = server.Folders["Older"];
        older.Append(Message(15), MessageFlags.None, [], Start.AddDays(7));
        older.SetFlags(older.Messages[0].Uid, MessageFlags.Flagged, []);
    }

    private static void ChangeSource(InMemoryServer server)
    {
        var inbox = server.Folders["INBOX"];
        for (var i = 30; i < 34; i++)
            inbox.Append(Message(i), MessageFlags.None, [], Start.AddDays(i));
        var archive = server.Folders["Archive"];
        archive.SetFlags(archive.Messages[0].Uid, MessageFlags.Seen | MessageFlags.Flagged, ["important"]);
        archive.SetFlags(archive.Messages[3].Uid, MessageFlags.None, []);
        var fresh = server.Add("Projects");
        fresh.Append(Message(40), MessageFlags.None, [], Start.AddDays(40));
        fresh.Append(Message(40), MessageFlags.None, [], Start.AddDays(40));
    }

    private static byte[] Message(int n, bool messageId = true) => Seeds.Message(n, messageId);
}
