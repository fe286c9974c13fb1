using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// A randomized model test of two-way sync against a real Dovecot: rounds of random changes on
/// both accounts, made by hand-written IMAP (never through MailSync), each round followed by one
/// sync; after each, both accounts must hold the same, and exactly what a small in-test model
/// predicts, and the run must have written what the changes call for (moved mail moved, not
/// uploaded). The seed is printed and named in every failure; MAILSYNC_MODEL_SEED replays a run
/// (with the same MAILSYNC_MODEL_ROUNDS, if that was set).
/// </summary>
/// <remarks>
/// <para>
/// Operations: new mail (some without a Message-ID, now and then more than a batch at once), flag
/// and keyword toggles (one message or several in one STORE), expunges, moves (one message or
/// several in one UID MOVE, some after a flag toggle), a message appended again and its old copy
/// expunged, new folders (nested too), and whole-folder operations: emptying, deleting (sometimes
/// while the other side gets new mail there), renaming, deleting and re-creating with the same
/// messages (a new UIDVALIDITY). Each sync runs with --allow-deletions all, so the guard holds nothing.
/// </para>
/// <para>
/// In a round every message is changed by one side, so the model needs no conflict rule, with
/// these unambiguous exceptions: a flag toggle and a move of the same message on the same side; a
/// flag or keyword toggled on each side of the same message (they started out equal, so per flag
/// the sides cannot disagree); the same change on both sides (a message expunged, or moved into
/// the same folder, a folder deleted); and the same new message arriving on both sides (paired,
/// not copied, its flags the union), likewise the same new folder. Whole-folder operations only
/// take leaf folders no other operation of the round involves, and a folder deleted or renamed is
/// left alone by the rest of the round.
/// </para>
/// </remarks>
[Collection(DovecotCollection.Name)]
public sealed class SyncModelTests(DovecotFixture fixture, ITestOutputHelper output)
{
    /// <summary>Rounds of changes and syncs: about 10 to 25 s in all on two cores. MAILSYNC_MODEL_ROUNDS sets another number, for a longer soak.</summary>
    private static readonly int Rounds = Environment.GetEnvironmentVariable("MAILSYNC_MODEL_ROUNDS") is { Length: > 0 } rounds
        ? int.Parse(rounds, CultureInfo.InvariantCulture)
        : 40;

    private static readonly DateTimeOffset Start = new(2022, 5, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly MessageFlags[] ToggledFlags = [MessageFlags.Seen, MessageFlags.Flagged, MessageFlags.Answered];

    /// <summary>
    /// Flags also toggled now and then: \Draft, and \Deleted, which stays on its message until the
    /// user expunges (a sync that expunged more than the UIDs it means to would lose those).
    /// </summary>
    private static readonly MessageFlags[] RareFlags = [MessageFlags.Draft, MessageFlags.Deleted];

    private static readonly string[] Keywords = ["$Label1", "$Label2", "$Label3"];

    private static readonly string[] FolderWords = ["Projects", "Receipts", "Travel", "Lists", "Family", "Old Mail", "Reçus", "Grüße & Co", "日本"];

    private static readonly TimeSpan[] Offsets = [TimeSpan.Zero, TimeSpan.FromHours(2), TimeSpan.FromHours(-5), new TimeSpan(5, 30, 0)];

    private DovecotServer Server => fixture.Server;

    private enum Account { A, B }

    private enum OpKind
    {
        New, NewWithoutId, Twin, Burst, Flag, Keyword, BulkFlag, BothToggle, BothExpunge, BothMove, Expunge, Move, MoveWithoutId, MoveAndFlag, BulkMove, Reappend,
        NewFolder, TwinFolder, EmptyFolder, DeleteFolder, DeleteFolderWithNewMail, BothDeleteFolder, RenameFolder, RecreateFolder, Subscription,
    }

    /// <summary>One message as the model has it; both accounts should hold it so after a sync.</summary>
    private sealed class Msg
    {
        public required int Id { get; init; }
        public required byte[] Bytes { get; init; }
        public required string Hash { get; init; }
        public required bool HasMessageId { get; init; }
        public required DateTimeOffset Date { get; init; }
        public MessageFlags Flags { get; set; }
        public SortedSet<string> Keywords { get; } = new(StringComparer.Ordinal);
        public string FlagString => FlagText.Format(Flags, Keywords);
        public string Tag => Id.ToString("D6", CultureInfo.InvariantCulture);

        /// <summary>Toggles a system flag ("\Seen") or a keyword; returns "+X" or "-X".</summary>
        public string Toggle(string flag)
        {
            if (flag.StartsWith('\\'))
            {
                var f = FlagText.Parse(flag).Flags;
                Flags ^= f;
                return (Flags.HasFlag(f) ? "+" : "-") + flag;
            }

            if (!Keywords.Remove(flag))
            {
                Keywords.Add(flag);
                return "+" + flag;
            }

            return "-" + flag;
        }
    }

    /// <summary>What one round did and what its sync should then write.</summary>
    private sealed class Round(int number, HashSet<string> before)
    {
        public string Where { get; } = $"round {number}";

        /// <summary>The folders both accounts had before the round.</summary>
        public HashSet<string> Before { get; } = before;

        /// <summary>Messages an operation of this round changed: no other operation takes them.</summary>
        public HashSet<int> Touched { get; } = [];

        /// <summary>Folders an operation of this round involved: no whole-folder operation takes them.</summary>
        public HashSet<string> Used { get; } = new(StringComparer.Ordinal);

        /// <summary>Folders deleted or renamed on one side this round: no other operation goes near them.</summary>
        public HashSet<string> Gone { get; } = new(StringComparer.Ordinal);

        public Dictionary<Account, List<string>> Created { get; } = new() { [Account.A] = [], [Account.B] = [] };

        public Dictionary<OpKind, int> Counts { get; } = Enum.GetValues<OpKind>().ToDictionary(k => k, _ => 0);

        public List<string> Log { get; } = [];

        public int Appended { get; set; }
        public int Moved { get; set; }
        public int Deleted { get; set; }
        public int Stores { get; set; }
        public int Paired { get; set; }

        public void Note(OpKind kind, string text)
        {
            Counts[kind]++;
            Log.Add(text);
        }

        /// <summary>The folders a side may use: those both had, less the ones gone, plus its own new ones.</summary>
        public List<string> Folders(Account side) => [.. Before.Where(f => !Gone.Contains(f)).Order(StringComparer.Ordinal), .. Created[side]];
    }

    /// <summary>A new message appended on both sides in the same round.</summary>
    private sealed record Twin(string Folder, Msg OnA, Msg OnB);

    /// <summary>A message whose flags each side toggles (one flag or keyword each) in the same round.</summary>
    private sealed record BothToggle(string Folder, Msg Message, string OnA, string OnB);

    /// <summary>A message both sides expunge (<paramref name="MoveTo"/> null), or move into the same folder, in the same round.</summary>
    private sealed record BothSame(string Folder, Msg Message, string? MoveTo);

    /// <summary>The model: folder path → messages. Every folder is subscribed (INBOX is listed as such).</summary>
    private readonly SortedDictionary<string, List<Msg>> _model = new(StringComparer.Ordinal);

    /// <summary>Folders the model has unsubscribed (on both sides, once synced); every other folder is subscribed.</summary>
    private readonly HashSet<string> _unsubscribed = new(StringComparer.Ordinal);

    private readonly Dictionary<OpKind, int> _totals = Enum.GetValues<OpKind>().ToDictionary(k => k, _ => 0);
    private int _nextId;
    private int _nextFolder;
    private bool _bigSent;
    private int _seed;
    private string _where = "";
    private List<string>? _unprinted;
    private Dictionary<Account, TestUser> _users = [];
    private Random _rng = new(0);

    [Fact]
    public async Task Random_changes_on_both_sides_round_after_round_end_as_the_model_predicts_and_a_last_run_writes_nothing()
    {
        _seed = Environment.GetEnvironmentVariable("MAILSYNC_MODEL_SEED") is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Environment.TickCount & int.MaxValue;
        _rng = new Random(_seed);
        output.WriteLine($"seed {_seed} (replay with MAILSYNC_MODEL_SEED={_seed})");
        try
        {
            await RunModelAsync();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            // A server refusal in an operation, or the sync throwing: named with the seed too.
            if (_unprinted is { } log)
                output.WriteLine($"{_where} (so far): {string.Join("; ", log)}");
            throw new Xunit.Sdk.XunitException(Replay(_where, ex.ToString()));
        }
    }

    private async Task RunModelAsync()
    {
        _where = "seeding";
        var total = Stopwatch.StartNew();
        var syncTime = TimeSpan.Zero;
        var syncs = 0;

        var a = await Server.CreateUserAsync("model-a");
        var b = await Server.CreateUserAsync("model-b");
        var users = _users = new Dictionary<Account, TestUser> { [Account.A] = a, [Account.B] = b };

        // A small mailbox on A, seeded by hand-written APPENDs; B starts empty.
        foreach (var (folder, count) in new[] { ("INBOX", 12), ("Archive", 6), ("Work", 1), ("Work/Reports", 5) })
        {
            var messages = Enumerable.Range(0, count).Select(_ => NewMsg(_rng.Next(8) != 0)).ToList();
            await Server.SeedAsync(a, folder, messages.Select(m => new SeedMessage(m.Bytes, m.Date, m.Flags, [.. m.Keywords])));
            _model[folder] = messages;
        }

        using var job = JobFile.CreateSync(Server, a, Server, b);
        var options = new MigrationOptions { AllowDeletions = new HashSet<string>(StringComparer.Ordinal) { "all" } };

        async Task<JobResult> SyncAsync(string where)
        {
            var clock = Stopwatch.StartNew();
            _where = where;
            var result = await job.RunAsync(options);
            syncTime += clock.Elapsed;
            syncs++;
            return result;
        }

        var first = await SyncAsync("first sync");
        Check(first, "first sync");
        Assert.True(first.Appended == 24, Replay("first sync", $"appended {first.Appended}, expected 24"));
        await CompareAsync(a, b, "first sync");

        for (var number = 1; number <= Rounds; number++)
        {
            var round = new Round(number, _model.Keys.ToHashSet(StringComparer.Ordinal));
            _where = round.Where;
            _unprinted = round.Log;
            var twins = PlanTwins(round);
            var twinFolder = PlanTwinFolder(round);
            var toggles = PlanBothToggles(round);
            var sames = PlanBothSame(round);
            var deletedOnBoth = PlanBothDeleteFolder(round);
            foreach (var side in _rng.Next(2) == 0 ? new[] { Account.A, Account.B } : [Account.B, Account.A])
            {
                await using var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, users[side].Name, users[side].Password);
                if (twinFolder is not null)
                {
                    await raw.EnsureFolderAsync(twinFolder);
                    round.Created[side].Add(twinFolder);
                }

                foreach (var twin in twins)
                {
                    var m = side == Account.A ? twin.OnA : twin.OnB;
                    await raw.AppendAsync(twin.Folder, m.Bytes, m.Flags, m.Keywords, m.Date);
                }

                foreach (var toggle in toggles)
                    await ToggleAsync(raw, side, toggle.Folder, toggle.Message, side == Account.A ? toggle.OnA : toggle.OnB, round, bothSides: true);
                foreach (var same in sames)
                {
                    var uid = await SelectAndFindAsync(raw, side, same.Folder, same.Message, round);
                    if (same.MoveTo is { } to)
                    {
                        await OkAsync(raw, $"UID MOVE {uid} {Mailbox(to)}", round);
                    }
                    else
                    {
                        await OkAsync(raw, $"UID STORE {uid} +FLAGS.SILENT (\\Deleted)", round);
                        await OkAsync(raw, $"UID EXPUNGE {uid}", round);
                    }
                }

                if (deletedOnBoth is not null)
                {
                    await OkAsync(raw, $"DELETE {Mailbox(deletedOnBoth)}", round);
                    await OkAsync(raw, $"UNSUBSCRIBE {Mailbox(deletedOnBoth)}", round);
                }

                if (_rng.Next(4) == 0)
                    await NewFolderAsync(raw, side, round);
                var n = _rng.Next(3, 10);
                for (var i = 0; i < n; i++)
                    await RandomOpAsync(raw, side, round);
            }

            ApplyTwins(twins, round);
            ApplyBothToggles(toggles, round);
            ApplyBothSame(sames, deletedOnBoth, round);
            output.WriteLine($"{round.Where}: {string.Join("; ", round.Log)}");
            _unprinted = null;

            var before = syncTime;
            var run = await SyncAsync(round.Where);
            output.WriteLine($"{round.Where}: synced in {(syncTime - before).TotalSeconds:F2} s");
            Check(run, round.Where);
            await CompareAsync(a, b, round.Where);
            CheckCounts(run, round);
            foreach (var (kind, count) in round.Counts)
                _totals[kind] += count;

            // Now and then at once a rerun, which must find nothing to do; otherwise the next round's changes meet this run's writes.
            if (_rng.Next(3) == 0)
                CheckIdle(await SyncAsync($"{round.Where}, rerun"), $"{round.Where}, rerun");
        }

        var idle = await SyncAsync("last rerun");
        CheckIdle(idle, "last rerun");
        await CompareAsync(a, b, "last rerun");

        var left = _model.Values.Sum(m => m.Count);
        output.WriteLine($"summary: seed {_seed}, {Rounds} rounds, ops {string.Join(", ", _totals.Select(t => $"{t.Key} {t.Value}"))} ({_totals.Values.Sum()} in all); "
            + $"{(_bigSent ? "one message over 1 MiB; " : "")}{_model.Count} folders, {left} messages at the end; {syncs} syncs took {syncTime.TotalSeconds:F1} s, the test {total.Elapsed.TotalSeconds:F1} s");
    }

    // ---- operations on one side -------------------------------------------------------------

    /// <summary>Messages both sides had before the round, in folders still there, that no operation of the round touched yet.</summary>
    private List<(string Folder, Msg Msg)> Candidates(Round round)
        => [.. _model.Where(f => round.Before.Contains(f.Key) && !round.Gone.Contains(f.Key))
            .SelectMany(f => f.Value.Where(m => !round.Touched.Contains(m.Id)).Select(m => (f.Key, m)))];

    /// <summary>
    /// Pre-round folders no operation of this round involved, for whole-folder operations; with
    /// <paramref name="leavesOnly"/> only those without a child on either side (a child the other
    /// side deleted this round is still there on this one).
    /// </summary>
    private List<string> Untouched(Round round, bool leavesOnly)
    {
        var all = round.Before.Concat(round.Created[Account.A]).Concat(round.Created[Account.B]).ToList();
        return [.. round.Before.Where(f => !round.Used.Contains(f) && !round.Gone.Contains(f)
                && (!leavesOnly || (f != "INBOX" && !all.Any(k => k.StartsWith(f + "/", StringComparison.Ordinal)))))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>The single-side operations and their weights; one that cannot be made (nothing to take) becomes a new message.</summary>
    private static readonly (OpKind Kind, int Weight)[] Weights =
    [
        (OpKind.New, 22), (OpKind.Flag, 24), (OpKind.Expunge, 12), (OpKind.Move, 20), (OpKind.MoveAndFlag, 5),
        (OpKind.BulkMove, 4), (OpKind.BulkFlag, 4), (OpKind.Burst, 1), (OpKind.Reappend, 3),
        (OpKind.EmptyFolder, 2), (OpKind.DeleteFolder, 2), (OpKind.RenameFolder, 2), (OpKind.RecreateFolder, 2), (OpKind.Subscription, 3),
    ];

    /// <summary>One random operation on <paramref name="side"/>, made through raw IMAP and applied to the model.</summary>
    private async Task RandomOpAsync(RawImapSession raw, Account side, Round round)
    {
        var candidates = Candidates(round);
        var folders = round.Folders(side);
        var roll = _rng.Next(Weights.Sum(w => w.Weight));
        var kind = Weights.SkipWhile(w => (roll -= w.Weight) >= 0).First().Kind;
        var sameFolder = candidates.GroupBy(c => c.Folder).Where(g => g.Count() >= 2).ToList();
        switch (kind)
        {
            case OpKind.EmptyFolder or OpKind.DeleteFolder or OpKind.RenameFolder or OpKind.RecreateFolder
                when Untouched(round, leavesOnly: kind != OpKind.EmptyFolder) is { Count: > 0 } whole && round.Before.Count - round.Gone.Count > 4:
            {
                var folder = whole[_rng.Next(whole.Count)];
                if (kind == OpKind.RenameFolder)
                    await RenameFolderAsync(raw, side, folder, round);
                else if (kind == OpKind.DeleteFolder)
                    await DeleteFolderAsync(raw, side, folder, round, newOnOtherSide: _rng.Next(2) == 0);
                else if (kind == OpKind.RecreateFolder)
                    await RecreateFolderAsync(raw, side, folder, round);
                else if (_model[folder].Count > 0)
                    await EmptyFolderAsync(raw, side, folder, round);
                else
                    goto default;
                return;
            }

            case OpKind.Subscription when Untouched(round, leavesOnly: false).Where(f => f != "INBOX").ToList() is { Count: > 0 } idle:
            {
                // Unsubscribed (or subscribed again) on one side: the other side follows.
                var folder = idle[_rng.Next(idle.Count)];
                round.Used.Add(folder);
                var subscribe = _unsubscribed.Remove(folder);
                if (!subscribe)
                    _unsubscribed.Add(folder);
                await OkAsync(raw, $"{(subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE")} {Mailbox(folder)}", round);
                round.Note(OpKind.Subscription, $"{side}: {(subscribe ? "subscribe" : "unsubscribe")} {folder}");
                return;
            }

            case OpKind.Flag or OpKind.Expunge or OpKind.Move or OpKind.MoveAndFlag or OpKind.Reappend when candidates.Count > 0:
            {
                var (from, m) = candidates[_rng.Next(candidates.Count)];
                round.Touched.Add(m.Id);
                round.Used.Add(from);
                if (kind == OpKind.Reappend)
                {
                    await ReappendAsync(raw, side, from, m, round);
                }
                else if (kind == OpKind.Flag)
                {
                    await ToggleAsync(raw, side, from, m, RandomFlag(), round);
                    round.Stores++;
                }
                else if (kind == OpKind.Expunge)
                {
                    var uid = await SelectAndFindAsync(raw, side, from, m, round);
                    await OkAsync(raw, $"UID STORE {uid} +FLAGS.SILENT (\\Deleted)", round);
                    await OkAsync(raw, $"UID EXPUNGE {uid}", round);
                    _model[from].Remove(m);
                    round.Deleted++;
                    round.Note(OpKind.Expunge, $"{side}: expunge {m.Tag} in {from}");
                }
                else
                {
                    await MoveAsync(raw, side, from, [m], folders, round, flagFirst: kind == OpKind.MoveAndFlag);
                }

                return;
            }

            case OpKind.BulkMove or OpKind.BulkFlag when sameFolder.Count > 0:
            {
                var group = sameFolder[_rng.Next(sameFolder.Count)];
                var messages = group.Select(c => c.Msg).OrderBy(_ => _rng.Next()).Take(_rng.Next(2, 9)).ToList();
                round.Touched.UnionWith(messages.Select(m => m.Id));
                round.Used.Add(group.Key);
                if (kind == OpKind.BulkMove)
                    await MoveAsync(raw, side, group.Key, messages, folders, round, flagFirst: false);
                else
                    await BulkFlagAsync(raw, side, group.Key, messages, round);
                return;
            }

            case OpKind.Burst when round.Counts[OpKind.Burst] == 0:
            {
                // More than a batch (50) of new mail at once.
                var folder = folders[_rng.Next(folders.Count)];
                var messages = Enumerable.Range(0, _rng.Next(51, 71)).Select(_ => NewMsg(_rng.Next(10) != 0)).ToList();
                foreach (var m in messages)
                    await raw.AppendAsync(folder, m.Bytes, m.Flags, m.Keywords, m.Date);
                _model[folder].AddRange(messages);
                round.Touched.UnionWith(messages.Select(m => m.Id));
                round.Used.Add(folder);
                round.Appended += messages.Count;
                round.Note(OpKind.Burst, $"{side}: {messages.Count} new messages in {folder} ({messages[0].Tag}..{messages[^1].Tag})");
                return;
            }

            default:
            {
                var folder = folders[_rng.Next(folders.Count)];
                var msg = NewMsg(_rng.Next(6) != 0);
                await raw.AppendAsync(folder, msg.Bytes, msg.Flags, msg.Keywords, msg.Date);
                _model[folder].Add(msg);
                round.Touched.Add(msg.Id);
                round.Used.Add(folder);
                round.Appended++;
                round.Note(msg.HasMessageId ? OpKind.New : OpKind.NewWithoutId, $"{side}: new {msg.Tag} in {folder} ({msg.FlagString})");
                return;
            }
        }
    }

    /// <summary>
    /// Moves messages of one folder into another in one UID MOVE, after toggling one flag or
    /// keyword of each when <paramref name="flagFirst"/>. With a Message-ID the sync moves the
    /// other side's copy (and stores the flag change there); without one it expunges the copy and
    /// uploads the message again.
    /// </summary>
    private async Task MoveAsync(RawImapSession raw, Account side, string from, List<Msg> messages, List<string> folders, Round round, bool flagFirst)
    {
        var targets = folders.Where(f => f != from).ToList();
        var to = targets[_rng.Next(targets.Count)];
        var uids = new List<uint>();
        foreach (var m in messages)
            uids.Add(await SelectAndFindAsync(raw, side, from, m, round));
        var toggled = "";
        if (flagFirst)
        {
            toggled = RandomFlag();
            for (var i = 0; i < messages.Count; i++)
            {
                var change = messages[i].Toggle(toggled);
                await OkAsync(raw, $"UID STORE {uids[i]} {change[0]}FLAGS.SILENT ({toggled})", round);
            }
        }

        await OkAsync(raw, $"UID MOVE {string.Join(',', uids)} {Mailbox(to)}", round);
        round.Used.Add(to);
        foreach (var m in messages)
        {
            _model[from].Remove(m);
            _model[to].Add(m);
            if (m.HasMessageId)
            {
                round.Moved++;
                round.Stores += flagFirst ? 1 : 0;
            }
            else
            {
                round.Deleted++;
                round.Appended++;
            }
        }

        var what = messages.Count == 1
            ? $"move {messages[0].Tag}{(messages[0].HasMessageId ? "" : " (no Message-ID)")}"
            : $"move {messages.Count} messages ({string.Join(" ", messages.Select(m => m.Tag + (m.HasMessageId ? "" : "*")))})";
        round.Note(messages.Count > 1 ? OpKind.BulkMove : flagFirst ? OpKind.MoveAndFlag : messages[0].HasMessageId ? OpKind.Move : OpKind.MoveWithoutId,
            $"{side}: {what} {from} -> {to}{(flagFirst ? $" after toggling {toggled}" : "")}");
    }

    /// <summary>
    /// APPENDs a message again to its folder (same bytes and date, flags kept or new), then expunges
    /// the old copy, as some clients do to change a message. With a Message-ID the sync takes it for
    /// a move within the folder: no copy, only a store of the new flags on the other side. Without
    /// one it is an expunge and a new message.
    /// </summary>
    private async Task ReappendAsync(RawImapSession raw, Account side, string folder, Msg m, Round round)
    {
        var old = m.FlagString;
        var uid = await SelectAndFindAsync(raw, side, folder, m, round);
        if (_rng.Next(2) == 0)
        {
            m.Flags = MessageFlags.None;
            m.Keywords.Clear();
            RandomFlags(m);
        }

        await raw.AppendAsync(folder, m.Bytes, m.Flags, m.Keywords, m.Date);
        await OkAsync(raw, $"UID STORE {uid} +FLAGS.SILENT (\\Deleted)", round);
        await OkAsync(raw, $"UID EXPUNGE {uid}", round);
        if (m.HasMessageId)
        {
            round.Stores += old != m.FlagString ? 1 : 0;
        }
        else
        {
            round.Deleted++;
            round.Appended++;
        }

        round.Note(OpKind.Reappend, $"{side}: re-append {m.Tag}{(m.HasMessageId ? "" : " (no Message-ID)")} in {folder} ({old} -> {m.FlagString})");
    }

    /// <summary>Now and then the same new folder on both sides (perhaps under a folder both have), each side free to put mail in it.</summary>
    private string? PlanTwinFolder(Round round)
    {
        if (_rng.Next(8) != 0)
            return null;
        var parents = round.Before.Where(f => f != "INBOX").Order(StringComparer.Ordinal).ToList();
        var name = $"{FolderWords[_rng.Next(FolderWords.Length)]} {++_nextFolder}AB";
        if (_rng.Next(2) == 0)
        {
            var parent = parents[_rng.Next(parents.Count)];
            round.Used.Add(parent);
            name = $"{parent}/{name}";
        }

        _model[name] = [];
        round.Note(OpKind.TwinFolder, $"A+B: new folder {name} on both sides");
        return name;
    }

    /// <summary>Sets or clears one flag or keyword on several messages of a folder in one UID STORE; only those it changes need a store on the other side.</summary>
    private async Task BulkFlagAsync(RawImapSession raw, Account side, string folder, List<Msg> messages, Round round)
    {
        var flag = RandomFlag();
        var on = _rng.Next(2) == 0;
        var uids = new List<uint>();
        foreach (var m in messages)
            uids.Add(await SelectAndFindAsync(raw, side, folder, m, round));
        await OkAsync(raw, $"UID STORE {string.Join(',', uids)} {(on ? '+' : '-')}FLAGS.SILENT ({flag})", round);
        var changed = 0;
        foreach (var m in messages)
        {
            var has = flag.StartsWith('\\') ? m.Flags.HasFlag(FlagText.Parse(flag).Flags) : m.Keywords.Contains(flag);
            if (has != on)
            {
                m.Toggle(flag);
                changed++;
            }
        }

        round.Stores += changed;
        round.Note(OpKind.BulkFlag, $"{side}: {(on ? '+' : '-')}{flag} on {messages.Count} messages in {folder} ({string.Join(" ", messages.Select(m => m.Tag))}; {changed} changed)");
    }

    /// <summary>
    /// Toggles one flag or keyword of a message on one side, in the model too unless
    /// <paramref name="bothSides"/> (<see cref="ApplyBothToggles"/> does that once both sides had their turn).
    /// </summary>
    private async Task ToggleAsync(RawImapSession raw, Account side, string folder, Msg m, string flag, Round round, bool bothSides = false)
    {
        var uid = await SelectAndFindAsync(raw, side, folder, m, round);
        var on = flag.StartsWith('\\') ? !m.Flags.HasFlag(FlagText.Parse(flag).Flags) : !m.Keywords.Contains(flag);
        await OkAsync(raw, $"UID STORE {uid} {(on ? '+' : '-')}FLAGS.SILENT ({flag})", round);
        if (bothSides)
            return;
        m.Toggle(flag);
        round.Note(flag.StartsWith('\\') ? OpKind.Flag : OpKind.Keyword, $"{side}: {(on ? '+' : '-')}{flag} on {m.Tag} in {folder}");
    }

    /// <summary>A new folder on one side: top level, under an existing folder, or a new parent with a child; each level created and subscribed.</summary>
    private async Task NewFolderAsync(RawImapSession raw, Account side, Round round)
    {
        var name = $"{FolderWords[_rng.Next(FolderWords.Length)]} {++_nextFolder}{side}";
        var parents = round.Folders(side).Where(f => f != "INBOX").ToList();
        var parent = parents[_rng.Next(parents.Count)];
        List<string> created = _rng.Next(3) switch
        {
            0 => [name],
            1 => [$"{parent}/{name}"],
            _ => [name, $"{name}/Sub {_nextFolder}{side}"],
        };
        if (created[0].StartsWith(parent + "/", StringComparison.Ordinal))
            round.Used.Add(parent);
        foreach (var folder in created)
        {
            await raw.EnsureFolderAsync(folder);
            _model[folder] = [];
            round.Created[side].Add(folder);
            round.Note(OpKind.NewFolder, $"{side}: new folder {folder}");
        }
    }

    /// <summary>Expunges every message of a folder: the guard's "folder became empty" rule, allowed by --allow-deletions all.</summary>
    private async Task EmptyFolderAsync(RawImapSession raw, Account side, string folder, Round round)
    {
        await OkAsync(raw, $"SELECT {Mailbox(folder)}", round);
        await OkAsync(raw, "UID STORE 1:* +FLAGS.SILENT (\\Deleted)", round);
        await OkAsync(raw, "EXPUNGE", round);
        round.Used.Add(folder);
        round.Deleted += _model[folder].Count;
        foreach (var m in _model[folder])
            round.Touched.Add(m.Id);
        round.Note(OpKind.EmptyFolder, $"{side}: empty {folder} ({_model[folder].Count} messages)");
        _model[folder].Clear();
    }

    /// <summary>
    /// Deletes a leaf folder: the other side's copy goes too, its messages expunged (allowed by
    /// --allow-deletions all). With <paramref name="newOnOtherSide"/> the other side gets new mail
    /// in it meanwhile: then only the messages the sync knew go, and the folder comes back on this
    /// side with the new ones.
    /// </summary>
    private async Task DeleteFolderAsync(RawImapSession raw, Account side, string folder, Round round, bool newOnOtherSide)
    {
        await OkAsync(raw, $"DELETE {Mailbox(folder)}", round);
        await OkAsync(raw, $"UNSUBSCRIBE {Mailbox(folder)}", round);
        round.Used.Add(folder);
        round.Gone.Add(folder);
        round.Deleted += _model[folder].Count;
        var deleted = _model[folder].Count;
        _model.Remove(folder);
        if (!newOnOtherSide)
        {
            _unsubscribed.Remove(folder);
            round.Note(OpKind.DeleteFolder, $"{side}: delete folder {folder} ({deleted} messages)");
            return;
        }

        // The folder comes back on this side as the other side has it: subscribed or not.
        var other = side == Account.A ? Account.B : Account.A;
        var messages = Enumerable.Range(0, _rng.Next(1, 4)).Select(_ => NewMsg(_rng.Next(5) != 0)).ToList();
        await using (var otherRaw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, _users[other].Name, _users[other].Password))
        {
            foreach (var m in messages)
                await otherRaw.AppendAsync(folder, m.Bytes, m.Flags, m.Keywords, m.Date);
        }

        _model[folder] = messages;
        round.Touched.UnionWith(messages.Select(m => m.Id));
        round.Appended += messages.Count;
        round.Note(OpKind.DeleteFolderWithNewMail, $"{side}: delete folder {folder} ({deleted} messages) while {other} gets {messages.Count} new there ({string.Join(" ", messages.Select(m => m.Tag))})");
    }

    /// <summary>
    /// Deletes a leaf folder and creates it again with the same messages (same bytes and dates, in
    /// another order, some with a flag or keyword toggled): a new UIDVALIDITY, after which the sync
    /// must find every message again by content, copy none and store only the toggles.
    /// </summary>
    private async Task RecreateFolderAsync(RawImapSession raw, Account side, string folder, Round round)
    {
        await OkAsync(raw, $"DELETE {Mailbox(folder)}", round);
        await raw.EnsureFolderAsync(folder);
        // Made again subscribed on this side: subscribed on both after the sync.
        _unsubscribed.Remove(folder);
        var toggled = 0;
        foreach (var m in _model[folder].OrderBy(_ => _rng.Next()).ToList())
        {
            if (_rng.Next(4) == 0)
            {
                m.Toggle(RandomFlag());
                toggled++;
            }

            await raw.AppendAsync(folder, m.Bytes, m.Flags, m.Keywords, m.Date.ToOffset(Offsets[_rng.Next(Offsets.Length)]));
            round.Touched.Add(m.Id);
        }

        round.Used.Add(folder);
        round.Stores += toggled;
        round.Note(OpKind.RecreateFolder, $"{side}: delete and re-create {folder} with its {_model[folder].Count} messages, {toggled} with a flag toggled");
    }

    /// <summary>
    /// Renames a leaf folder. Dovecot keeps its UIDVALIDITY, so the sync finds the rename and renames
    /// the folder on the other side: nothing is uploaded, moved or expunged.
    /// </summary>
    private async Task RenameFolderAsync(RawImapSession raw, Account side, string folder, Round round)
    {
        var slash = folder.LastIndexOf('/');
        var renamed = (slash < 0 ? "" : folder[..(slash + 1)]) + $"Renamed {++_nextFolder}{side}";
        await OkAsync(raw, $"RENAME {Mailbox(folder)} {Mailbox(renamed)}", round);
        await OkAsync(raw, $"UNSUBSCRIBE {Mailbox(folder)}", round);
        await OkAsync(raw, $"SUBSCRIBE {Mailbox(renamed)}", round);
        var messages = _model[folder];
        round.Used.Add(folder);
        round.Gone.Add(folder);
        round.Created[side].Add(renamed);
        foreach (var m in messages)
            round.Touched.Add(m.Id);
        _model.Remove(folder);
        _unsubscribed.Remove(folder);
        _model[renamed] = messages;
        round.Note(OpKind.RenameFolder, $"{side}: rename folder {folder} -> {renamed} ({messages.Count} messages)");
    }

    // ---- operations on both sides -----------------------------------------------------------

    /// <summary>Now and then the same new message for both sides (flags of their own, dates in offsets of their own): to be paired, not copied.</summary>
    private List<Twin> PlanTwins(Round round)
    {
        var twins = new List<Twin>();
        if (_rng.Next(4) != 0)
            return twins;
        var folders = round.Before.Order(StringComparer.Ordinal).ToList();
        for (var i = _rng.Next(1, 3); i > 0; i--)
        {
            var onA = NewMsg(_rng.Next(4) != 0);
            var onB = new Msg { Id = onA.Id, Bytes = onA.Bytes, Hash = onA.Hash, HasMessageId = onA.HasMessageId, Date = onA.Date.ToOffset(Offsets[_rng.Next(Offsets.Length)]) };
            RandomFlags(onB);
            var folder = folders[_rng.Next(folders.Count)];
            round.Touched.Add(onA.Id);
            round.Used.Add(folder);
            twins.Add(new Twin(folder, onA, onB));
        }

        return twins;
    }

    /// <summary>The twins in the model: one message with the union of both sides' flags (a 3-way merge from nothing); a store on each side that lacked some.</summary>
    private void ApplyTwins(List<Twin> twins, Round round)
    {
        foreach (var (folder, onA, onB) in twins)
        {
            var merged = new Msg { Id = onA.Id, Bytes = onA.Bytes, Hash = onA.Hash, HasMessageId = onA.HasMessageId, Date = onA.Date, Flags = onA.Flags | onB.Flags };
            merged.Keywords.UnionWith(onA.Keywords);
            merged.Keywords.UnionWith(onB.Keywords);
            _model[folder].Add(merged);
            round.Paired++;
            round.Stores += (merged.FlagString != onA.FlagString ? 1 : 0) + (merged.FlagString != onB.FlagString ? 1 : 0);
            round.Note(OpKind.Twin, $"A+B: same new {onA.Tag}{(onA.HasMessageId ? "" : " (no Message-ID)")} in {folder} (A: {onA.FlagString}; B: {onB.FlagString})");
        }
    }

    /// <summary>Now and then a message whose flags both sides change: each toggles one flag or keyword.</summary>
    private List<BothToggle> PlanBothToggles(Round round)
    {
        var toggles = new List<BothToggle>();
        if (_rng.Next(3) != 0)
            return toggles;
        for (var i = _rng.Next(1, 3); i > 0; i--)
        {
            var candidates = Candidates(round);
            if (candidates.Count == 0)
                break;
            var (folder, m) = candidates[_rng.Next(candidates.Count)];
            round.Touched.Add(m.Id);
            round.Used.Add(folder);
            toggles.Add(new BothToggle(folder, m, RandomFlag(), RandomFlag()));
        }

        return toggles;
    }

    /// <summary>
    /// Both toggles in the model: each distinct flag flips once (the sides started equal, so a flag
    /// both toggled ends the same on both with nothing to store); different flags are stored across.
    /// </summary>
    private void ApplyBothToggles(List<BothToggle> toggles, Round round)
    {
        foreach (var (folder, m, onA, onB) in toggles)
        {
            m.Toggle(onA);
            if (onB != onA)
                m.Toggle(onB);
            round.Stores += onA == onB ? 0 : 2;
            round.Note(OpKind.BothToggle, $"A+B: {m.Tag} in {folder} toggled {onA} on A, {onB} on B, now ({m.FlagString})");
        }
    }

    /// <summary>Now and then a message or two both sides expunge, or move into the same folder: nothing to copy either way.</summary>
    private List<BothSame> PlanBothSame(Round round)
    {
        var sames = new List<BothSame>();
        if (_rng.Next(4) != 0)
            return sames;
        for (var i = _rng.Next(1, 3); i > 0; i--)
        {
            var candidates = Candidates(round);
            if (candidates.Count == 0)
                break;
            var (folder, m) = candidates[_rng.Next(candidates.Count)];
            var targets = round.Before.Where(f => f != folder && !round.Gone.Contains(f)).Order(StringComparer.Ordinal).ToList();
            var to = _rng.Next(2) == 0 ? targets[_rng.Next(targets.Count)] : null;
            round.Touched.Add(m.Id);
            round.Used.Add(folder);
            if (to is not null)
                round.Used.Add(to);
            sames.Add(new BothSame(folder, m, to));
        }

        return sames;
    }

    /// <summary>Now and then a leaf folder both sides delete: forgotten, nothing written.</summary>
    private string? PlanBothDeleteFolder(Round round)
    {
        if (_rng.Next(10) != 0 || round.Before.Count - round.Gone.Count <= 4 || Untouched(round, leavesOnly: true) is not { Count: > 0 } leaves)
            return null;
        var folder = leaves[_rng.Next(leaves.Count)];
        round.Used.Add(folder);
        round.Gone.Add(folder);
        return folder;
    }

    /// <summary>
    /// In the model: a message both expunged is gone; one both moved into the same folder is there,
    /// paired by content (its flags unchanged on both, nothing to store); a folder both deleted is gone.
    /// </summary>
    private void ApplyBothSame(List<BothSame> sames, string? deletedOnBoth, Round round)
    {
        foreach (var (folder, m, to) in sames)
        {
            _model[folder].Remove(m);
            if (to is null)
            {
                round.Note(OpKind.BothExpunge, $"A+B: both expunge {m.Tag} in {folder}");
                continue;
            }

            _model[to].Add(m);
            round.Paired++;
            round.Note(OpKind.BothMove, $"A+B: both move {m.Tag}{(m.HasMessageId ? "" : " (no Message-ID)")} {folder} -> {to}");
        }

        if (deletedOnBoth is not null)
        {
            round.Note(OpKind.BothDeleteFolder, $"A+B: both delete folder {deletedOnBoth} ({_model[deletedOnBoth].Count} messages)");
            _model.Remove(deletedOnBoth);
            _unsubscribed.Remove(deletedOnBoth);
        }
    }

    // ---- IMAP and messages --------------------------------------------------------------------

    private static string Mailbox(string folder) => RawImapSession.Quote(ModifiedUtf7.Encode(folder));

    private string RandomFlag()
        => _rng.Next(10) switch
        {
            < 5 => FlagText.Format(ToggledFlags[_rng.Next(ToggledFlags.Length)], []),
            5 => FlagText.Format(RareFlags[_rng.Next(RareFlags.Length)], []),
            _ => Keywords[_rng.Next(Keywords.Length)],
        };

    /// <summary>Selects the folder and finds the message's UID there by its X-Model header.</summary>
    private async Task<uint> SelectAndFindAsync(RawImapSession raw, Account side, string folder, Msg m, Round round)
    {
        await OkAsync(raw, $"SELECT {Mailbox(folder)}", round);
        var response = await raw.CommandAsync($"UID SEARCH HEADER X-Model \"{m.Tag}\"");
        Assert.True(response.IsOk, Replay(round.Where, $"SEARCH for {m.Tag} in {folder} on {side}: {response}"));
        var uids = response.Untagged.Where(l => l.StartsWith("* SEARCH", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2)).ToList();
        Assert.True(uids.Count == 1, Replay(round.Where, $"message {m.Tag} found {uids.Count} times in {folder} on {side} (UIDs {string.Join(",", uids)}), expected once"));
        return uint.Parse(uids[0], CultureInfo.InvariantCulture);
    }

    private async Task OkAsync(RawImapSession raw, string command, Round round)
    {
        var response = await raw.CommandAsync(command);
        Assert.True(response.IsOk, Replay(round.Where, $"{command}: {response}"));
    }

    /// <summary>
    /// A new message with a unique X-Model tag (and Message-ID, unless not), a date an hour or more
    /// from any other's, a random size, flags and keywords; some with an 8-bit UTF-8 body.
    /// </summary>
    private Msg NewMsg(bool withMessageId)
    {
        var id = ++_nextId;
        var date = Start.AddHours(id).AddSeconds(_rng.Next(3600)).ToOffset(Offsets[_rng.Next(Offsets.Length)]);
        var eightBit = _rng.Next(8) == 0;
        var text = new StringBuilder();
        if (withMessageId)
            text.Append(CultureInfo.InvariantCulture, $"Message-ID: <model-{id}.{_seed}@model.test>\r\n");
        text.Append(CultureInfo.InvariantCulture, $"X-Model: {id:D6}\r\n");
        text.Append("From: Model <model@example.org>\r\nTo: someone@example.org\r\n");
        text.Append(CultureInfo.InvariantCulture, $"Subject: model message {id}\r\n");
        text.Append("Date: ").Append(date.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture))
            .Append(date.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal)).Append("\r\n");
        text.Append(eightBit
            ? "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            : "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
        // Once in a run (most runs) one over the 1 MiB above which a copy is spooled to disk.
        var big = !_bigSent && _rng.Next(100) == 0;
        _bigSent |= big;
        var lines = big ? 25_000 : _rng.Next(1, 40);
        for (var i = 0; i < lines; i++)
            text.Append(CultureInfo.InvariantCulture, $"line {i} of message {id}: {(eightBit ? "Grüße, ça va? " : "")}{new string((char)('a' + _rng.Next(26)), _rng.Next(0, 70))}\r\n");
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var msg = new Msg
        {
            Id = id,
            Bytes = bytes,
            Hash = Convert.ToHexString(SHA256.HashData(bytes))[..16],
            HasMessageId = withMessageId,
            Date = date,
        };
        RandomFlags(msg);
        return msg;
    }

    private void RandomFlags(Msg msg)
    {
        foreach (var flag in ToggledFlags)
        {
            if (_rng.Next(3) == 0)
                msg.Flags |= flag;
        }

        if (_rng.Next(12) == 0)
            msg.Flags |= MessageFlags.Draft;
        if (_rng.Next(20) == 0)
            msg.Flags |= MessageFlags.Deleted;
        foreach (var keyword in Keywords)
        {
            if (_rng.Next(4) == 0)
                msg.Keywords.Add(keyword);
        }
    }

    // ---- checks ---------------------------------------------------------------------------------

    private string Replay(string where, string what) => $"seed {_seed} (MAILSYNC_MODEL_SEED={_seed}), {where}: {what}";

    private void Check(JobResult result, string where)
    {
        Assert.True(result.Status == JobStatus.Succeeded && result.Failures.Count == 0,
            Replay(where, $"job {result.Status}: {result.Error}; failures: {string.Join("; ", result.Failures.Select(f => $"{f.SourceFolder} {f.SourceUid}: {f.Reason}"))}; warnings: {string.Join("; ", result.Warnings)}"));
        var held = result.Folders.Where(f => f.Sync!.HeldOnA + f.Sync.HeldOnB + f.Sync.Conflicts > 0 || f.Error is not null)
            .Select(f => $"{f.SourceFolder}: held {f.Sync!.HeldOnA}/{f.Sync.HeldOnB}, conflicts {f.Sync.Conflicts}, error {f.Error}").ToList();
        Assert.True(held.Count == 0, Replay(where, string.Join("; ", held)));
        if (result.Warnings.Count > 0)
            output.WriteLine($"{where}: warnings: {string.Join("; ", result.Warnings)}");
    }

    private void CheckIdle(JobResult result, string where)
    {
        Check(result, where);
        var busy = result.Folders.Where(f => f.Sync!.Writes != 0 || f.Sync.PairedByContent != 0 || f.Sync.FolderChange is not null)
            .Select(f => $"{f.SourceFolder}: {f.Sync!.Writes} write(s), {f.Sync.PairedByContent} paired, folder {f.Sync.FolderChange}").ToList();
        Assert.True(busy.Count == 0 && result.Appended == 0, Replay(where, $"a rerun should write nothing: appended {result.Appended}; {string.Join(", ", busy)}"));
    }

    /// <summary>What the run wrote, against what the round's operations call for.</summary>
    private void CheckCounts(JobResult run, Round round)
    {
        var sync = run.Folders.Select(f => f.Sync!).ToList();
        var actual = (Appended: run.Appended, Moved: sync.Sum(s => s.MovedOnA + s.MovedOnB), Deleted: sync.Sum(s => s.DeletedOnA + s.DeletedOnB),
            Stores: sync.Sum(s => s.FlagsChangedOnA + s.FlagsChangedOnB), Paired: sync.Sum(s => s.PairedByContent));
        var expected = (round.Appended, round.Moved, round.Deleted, round.Stores, round.Paired);
        static string Text((int Appended, int Moved, int Deleted, int Stores, int Paired) c)
            => $"appended {c.Appended}, moved {c.Moved}, deleted {c.Deleted}, flags stored {c.Stores}, paired by content {c.Paired}";
        Assert.True(actual == expected, Replay(round.Where, $"the run counted {Text(actual)}; the operations call for {Text(expected)}"));
    }

    /// <summary>Both accounts equal, and equal to the model's picture (the format of <see cref="TwoAccounts.PictureAsync"/>).</summary>
    private async Task CompareAsync(TestUser a, TestUser b, string where)
    {
        List<string> actual;
        try
        {
            actual = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        }
        catch (Xunit.Sdk.XunitException ex)
        {
            throw new Xunit.Sdk.XunitException(Replay(where, ex.Message));
        }

        var expected = _model.SelectMany(f => f.Value.Select(m => $"{f.Key} | {m.Hash} | {m.FlagString} | {m.Date.ToUnixTimeSeconds()}")
                .Prepend($"{f.Key} | folder{(_unsubscribed.Contains(f.Key) ? "" : ", subscribed")}"))
            .Order(StringComparer.Ordinal).ToList();
        if (!actual.SequenceEqual(expected))
        {
            var tags = _model.Values.SelectMany(v => v).GroupBy(m => m.Hash).ToDictionary(g => g.Key, g => g.First().Tag);
            string Named(string line) => line.Split(" | ") is [_, var hash, ..] && tags.TryGetValue(hash, out var tag) ? $"{line}  [{tag}]" : line;
            Assert.Fail(Replay(where, "the accounts differ from the model.\n  only in the model:    "
                + string.Join("\n                        ", expected.Except(actual).Select(Named))
                + "\n  only in the accounts: " + string.Join("\n                        ", actual.Except(expected).Select(Named))));
        }
    }
}
