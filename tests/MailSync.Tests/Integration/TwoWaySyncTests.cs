using System.Text;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// Two-way sync ("mode": "sync") against a real Dovecot: the rules of the README's table, each
/// seeded and changed by hand-written IMAP (never through MailSync), each checked by reading both
/// accounts back in full.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class TwoWaySyncTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    private static readonly DateTimeOffset Start = new(2023, 2, 3, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task First_sync_of_two_full_accounts_pairs_what_both_hold_copies_the_rest_both_ways_and_a_rerun_writes_nothing()
    {
        var a = await Server.CreateUserAsync("sync-first-a");
        var b = await Server.CreateUserAsync("sync-first-b");
        await Server.SeedAsync(a, "INBOX", [Mail("f1", 1, MessageFlags.Seen), Mail("f2", 2), Mail("f3", 3, MessageFlags.Flagged, "work")]);
        await Server.SeedAsync(b, "INBOX", [Mail("f1", 1, MessageFlags.None, "$Label1"), Mail("f2", 2, MessageFlags.Answered), Mail("f4", 4)]);
        await Server.SeedAsync(a, "Archive/2022", [Mail("f10", 10), Mail("f10", 10), NoMessageId("f11", 11)]);
        await Server.SeedAsync(b, "Archive/2022", [Mail("f10", 10), NoMessageId("f11", 11, MessageFlags.Seen)]);
        await Server.SeedAsync(b, "Projects", [Mail("f20", 20, MessageFlags.Draft)]);
        using var job = JobFile.CreateSync(Server, a, Server, b);

        var first = await job.RunAsync();

        Assert.Equal(JobStatus.Succeeded, first.Status);
        var picture = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        output.WriteLine(string.Join("\n", picture));
        var counts = first.Folders.Select(f => f.Sync!).ToList();
        // f1, f2 in INBOX and one f10 twin and f11 (by header block) in the archive were on both: paired, not copied.
        Assert.Equal(4, counts.Sum(c => c.PairedByContent));
        Assert.Equal((2, 2), (counts.Sum(c => c.AppendedToB), counts.Sum(c => c.AppendedToA)));
        Assert.Contains("INBOX | ", picture.Single(l => l.StartsWith("INBOX", StringComparison.Ordinal) && l.Contains("\\Seen $Label1", StringComparison.Ordinal)));
        Assert.Equal(3, picture.Count(l => l.StartsWith("Archive/2022 | ", StringComparison.Ordinal) && !l.Contains("folder", StringComparison.Ordinal)));

        var again = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, again.Status);
        Assert.All(again.Folders, f => Assert.Equal(0, f.Sync!.Writes));
        Assert.Equal(picture, await TwoAccounts.AssertSameAsync(Server, a, Server, b));
    }

    [Fact]
    public async Task Changes_on_both_sides_new_mail_flags_keywords_expunges_moves_and_new_folders_end_with_both_accounts_equal()
    {
        var a = await Server.CreateUserAsync("sync-both-a");
        var b = await Server.CreateUserAsync("sync-both-b");
        var seed = Enumerable.Range(1, 8).Select(i => Mail("b", i, i % 2 == 0 ? MessageFlags.Seen : MessageFlags.None)).ToList();
        await Server.SeedAsync(a, "INBOX", seed);
        await Server.SeedAsync(a, "Archive", [Mail("b", 20), Mail("b", 21)]);
        using var job = JobFile.CreateSync(Server, a, Server, b);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);
        await TwoAccounts.AssertSameAsync(Server, a, Server, b);

        // On A: a new message, flag 1, expunge 2, move 3 into Archive, a new nested folder.
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, a.Name, a.Password))
        {
            await Server.SeedAsync(a, "INBOX", [Mail("b", 30)]);
            await Server.SeedAsync(a, "Lists/Dev", [Mail("b", 40, MessageFlags.Seen)]);
            await Ok(raw, "SELECT INBOX");
            await Ok(raw, $"UID STORE {await UidOf(raw, "b", 1)} +FLAGS (\\Flagged)");
            await Ok(raw, $"UID STORE {await UidOf(raw, "b", 2)} +FLAGS (\\Deleted)");
            await Ok(raw, "EXPUNGE");
            await Ok(raw, $"UID MOVE {await UidOf(raw, "b", 3)} Archive");
        }

        // On B: a new message, a keyword on 4, \Seen off 6, expunge 5, move 21 out of Archive into INBOX, a new folder.
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, b.Name, b.Password))
        {
            await Server.SeedAsync(b, "INBOX", [Mail("b", 31, MessageFlags.Seen, "$Label2")]);
            await Server.SeedAsync(b, "Notes", [Mail("b", 50, MessageFlags.Draft)]);
            await Ok(raw, "SELECT INBOX");
            await Ok(raw, $"UID STORE {await UidOf(raw, "b", 4)} +FLAGS ($Label1)");
            await Ok(raw, $"UID STORE {await UidOf(raw, "b", 6)} -FLAGS (\\Seen)");
            await Ok(raw, $"UID STORE {await UidOf(raw, "b", 5)} +FLAGS (\\Deleted)");
            await Ok(raw, "EXPUNGE");
            await Ok(raw, "SELECT Archive");
            await Ok(raw, $"UID MOVE {await UidOf(raw, "b", 21)} INBOX");
        }

        var run = await job.RunAsync();

        Assert.Equal(JobStatus.Succeeded, run.Status);
        var picture = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        output.WriteLine(string.Join("\n", picture));
        var counts = run.Folders.Select(f => f.Sync!).ToList();
        Assert.Equal((1, 1), (counts.Sum(c => c.MovedOnA), counts.Sum(c => c.MovedOnB)));
        Assert.Equal((1, 1), (counts.Sum(c => c.DeletedOnA), counts.Sum(c => c.DeletedOnB)));
        // Only the new mail was uploaded: moved messages were moved, not appended again.
        Assert.Equal(4, run.Appended);
        Assert.Equal(8, picture.Count(l => l.StartsWith("INBOX | ", StringComparison.Ordinal) && !l.Contains("folder", StringComparison.Ordinal)));
        Assert.Contains(picture, l => l.StartsWith("Lists/Dev | folder", StringComparison.Ordinal));
        Assert.Contains(picture, l => l.StartsWith("Notes | folder", StringComparison.Ordinal));

        var idle = await job.RunAsync();
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
    }

    [Fact]
    public async Task A_mass_deletion_on_one_side_is_held_with_exit_code_10_named_in_the_summary_then_confirmed_with_allow_deletions()
    {
        var a = await Server.CreateUserAsync("sync-guard-a");
        var b = await Server.CreateUserAsync("sync-guard-b");
        await Server.SeedAsync(a, "Bulk", Enumerable.Range(1, 70).Select(i => Mail("g", i)));
        await Server.SeedAsync(a, "INBOX", [Mail("g", 100)]);
        using var job = JobFile.CreateSync(Server, a, Server, b);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, a.Name, a.Password))
        {
            await Ok(raw, "SELECT Bulk");
            await Ok(raw, "STORE 1:60 +FLAGS.SILENT (\\Deleted)");
            await Ok(raw, "EXPUNGE");
        }

        // Meanwhile new mail on B's INBOX: the held folder must not stop the rest of the run.
        await Server.SeedAsync(b, "INBOX", [Mail("g", 101)]);

        var (code, text) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);

        Assert.True(code == ExitCodes.DeletionsHeld, $"exit {code}: {text}");
        Assert.Contains("mailsync sync summary", text, StringComparison.Ordinal);
        Assert.Contains("B→A 1 appended", text, StringComparison.Ordinal);
        Assert.Contains("deletions held: Bulk <-> Bulk", text, StringComparison.Ordinal);
        Assert.Contains("60 of 70 messages", text, StringComparison.Ordinal);
        Assert.Contains("--allow-deletions \"Bulk\"", text, StringComparison.Ordinal);
        var held = await Mailbox.ReadAllAsync(Server, b);
        Assert.Equal(70, held["Bulk"].Messages.Count);
        Assert.Equal(2, (await Mailbox.ReadAllAsync(Server, a))["INBOX"].Messages.Count);

        // The same again: still held, still nothing deleted (a re-run never takes silence for consent).
        Assert.Equal(ExitCodes.DeletionsHeld, (await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath)).Code);
        Assert.Equal(70, (await Mailbox.ReadAllAsync(Server, b))["Bulk"].Messages.Count);

        var (confirmed, confirmedText) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--allow-deletions", "Bulk");
        Assert.True(confirmed == ExitCodes.Success, $"exit {confirmed}: {confirmedText}");
        await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        Assert.Equal(10, (await Mailbox.ReadAllAsync(Server, b))["Bulk"].Messages.Count);
    }

    [Fact]
    public async Task A_folder_renamed_on_one_side_with_a_folder_under_it_is_renamed_on_the_other_and_nothing_is_copied_again()
    {
        var a = await Server.CreateUserAsync("sync-ren-a");
        var b = await Server.CreateUserAsync("sync-ren-b");
        await Server.SeedAsync(a, "Lists", [Mail("r", 1), Mail("r", 2, MessageFlags.Seen)]);
        await Server.SeedAsync(a, "Lists/Dev", [Mail("r", 3, MessageFlags.Flagged, "$Label1")]);
        await Server.SeedAsync(a, "INBOX", [Mail("r", 4)]);
        using var job = JobFile.CreateSync(Server, a, Server, b);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, b.Name, b.Password))
            await Ok(raw, "RENAME Lists \"Mailing lists\"");

        var run = await job.RunAsync();

        Assert.Equal(JobStatus.Succeeded, run.Status);
        var picture = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        output.WriteLine(string.Join("\n", picture));
        Assert.Contains(picture, l => l.StartsWith("Mailing lists/Dev | folder", StringComparison.Ordinal));
        Assert.DoesNotContain(picture, l => l.StartsWith("Lists", StringComparison.Ordinal));
        Assert.Equal(0, run.Appended);
        Assert.All(run.Folders, f => Assert.Equal((0, 0, 0, 0), (f.Sync!.DeletedOnA, f.Sync.DeletedOnB, f.Sync.MovedOnA, f.Sync.MovedOnB)));
        Assert.Contains(run.Folders, f => f.Sync!.FolderChange == "renamed on B (Lists -> Mailing lists): renamed on A (Lists -> Mailing lists)");
        var idle = await job.RunAsync();
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
    }

    [Fact]
    public async Task A_folder_deleted_and_re_created_with_its_messages_in_another_order_is_paired_again_by_content_and_its_flag_changes_synced()
    {
        var a = await Server.CreateUserAsync("sync-renumber-a");
        var b = await Server.CreateUserAsync("sync-renumber-b");
        var mail = Enumerable.Range(1, 6).Select(i => Mail("r", i, i % 2 == 0 ? MessageFlags.Seen : MessageFlags.None)).ToList();
        await Server.SeedAsync(a, "Archive", mail);
        using var job = JobFile.CreateSync(Server, a, Server, b);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);

        // On B: the folder deleted and made again with the same messages, last first (a new
        // UIDVALIDITY; UID 1 is now what was UID 6), one of them flagged meanwhile.
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, b.Name, b.Password))
        {
            await Ok(raw, "DELETE Archive");
            await raw.EnsureFolderAsync("Archive");
            foreach (var m in Enumerable.Reverse(mail))
                await raw.AppendAsync("Archive", m.Raw, m == mail[2] ? m.Flags | MessageFlags.Flagged : m.Flags, m.Keywords, m.InternalDate);
        }

        var run = await job.RunAsync();

        Assert.True(run.Status == JobStatus.Succeeded, $"{run.Status}: {run.Error}");
        var picture = await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        Assert.Equal(6, picture.Count(l => l.StartsWith("Archive | ", StringComparison.Ordinal) && !l.Contains("folder", StringComparison.Ordinal)));
        Assert.Single(picture, l => l.Contains("\\Flagged", StringComparison.Ordinal));
        var counts = run.Folders.Select(f => f.Sync!).ToList();
        Assert.Equal((0, 0, 1), (run.Appended, counts.Sum(c => c.DeletedOnA + c.DeletedOnB), counts.Sum(c => c.FlagsChangedOnA)));

        var idle = await job.RunAsync();
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_connection_cut_during_an_APPEND_is_recovered_in_the_same_run_by_looking_first_and_nothing_is_appended_twice(bool serverStoredIt)
    {
        var a = await Server.CreateUserAsync("sync-cut-a");
        var b = await Server.CreateUserAsync("sync-cut-b");
        await Server.SeedAsync(a, "INBOX", Enumerable.Range(1, 30).Select(i => Mail("c", i, i % 3 == 0 ? MessageFlags.Seen : MessageFlags.None)));
        await using var proxyB = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(Server.ImapPort, a, proxyB.Port, b, ", \"retryAttempts\": 2, \"retryDelaySeconds\": 1", mode: "sync");
        var cut = serverStoredIt ? proxyB.CutBeforeAppendOk() : proxyB.CutBefore("APPEND");

        var run = await ImapJob.RunAsync(job);

        Assert.True(cut.IsCompleted, "the APPEND was never cut");
        Assert.True(run.Status == JobStatus.Succeeded, $"{run.Status}: {run.Error}");
        Assert.NotEmpty(run.Recoveries);
        await TwoAccounts.AssertSameAsync(Server, a, Server, b);
        Assert.Equal(30, (await Mailbox.ReadAllAsync(Server, b))["INBOX"].Messages.Count);
        var idle = await ImapJob.RunAsync(job);
        Assert.All(idle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
    }

    [Fact]
    public async Task A_sync_with_nothing_changed_selects_no_folder_and_fetches_nothing_on_either_side()
    {
        var a = await Server.CreateUserAsync("sync-idle-a");
        var b = await Server.CreateUserAsync("sync-idle-b");
        await Server.SeedAsync(a, "INBOX", Enumerable.Range(1, 30).Select(i => Mail("i", i)));
        await Server.SeedAsync(b, "Archive/2021", Enumerable.Range(40, 30).Select(i => Mail("i", i, MessageFlags.Seen)));
        await using var proxyA = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        await using var proxyB = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        using var job = ImapJob.Create(proxyA.Port, a, proxyB.Port, b, mode: "sync");
        Assert.Equal(JobStatus.Succeeded, (await ImapJob.RunAsync(job)).Status);
        // The run after one that wrote opens the written folders once more (its cursors are those seen before its own writes).
        var settle = await ImapJob.RunAsync(job);
        Assert.All(settle.Folders, f => Assert.Equal(0, f.Sync!.Writes));
        var before = (A: Counts(proxyA), B: Counts(proxyB));

        var idle = await ImapJob.RunAsync(job);

        var after = (A: Counts(proxyA), B: Counts(proxyB));
        output.WriteLine($"before the idle run: A {before.A}, B {before.B}; after: A {after.A}, B {after.B}");
        Assert.All(idle.Folders, f => Assert.True(f.Unchanged, $"{f.SourceFolder} was opened"));
        Assert.Equal(before.A with { Logins = before.A.Logins + 1 }, after.A);
        Assert.Equal(before.B with { Logins = before.B.Logins + 1 }, after.B);
    }

    [Fact]
    public async Task A_dry_run_counts_both_directions_and_changes_nothing()
    {
        var a = await Server.CreateUserAsync("sync-dry-a");
        var b = await Server.CreateUserAsync("sync-dry-b");
        await Server.SeedAsync(a, "INBOX", [Mail("d", 1), Mail("d", 2)]);
        await Server.SeedAsync(b, "INBOX", [Mail("d", 2), Mail("d", 3), Mail("d", 4)]);
        await Server.SeedAsync(b, "Only-B", [Mail("d", 5)]);
        using var job = JobFile.CreateSync(Server, a, Server, b);
        var pictures = (A: await TwoAccounts.PictureAsync(Server, a), B: await TwoAccounts.PictureAsync(Server, b));

        var dry = await job.RunAsync(new MailSync.Core.Sync.MigrationOptions { DryRun = true });

        Assert.Equal(JobStatus.Succeeded, dry.Status);
        var inbox = Assert.Single(dry.Folders, f => f.SourceFolder == "INBOX").Sync!;
        Assert.Equal((1, 2, 1), (inbox.AppendedToB, inbox.AppendedToA, inbox.PairedByContent));
        Assert.Contains(dry.Folders, f => f.TargetFolder == "Only-B" && f.Sync!.FolderChange == "created on A");
        Assert.Equal(pictures.A, await TwoAccounts.PictureAsync(Server, a));
        Assert.Equal(pictures.B, await TwoAccounts.PictureAsync(Server, b));
    }

    private static (int Logins, int Selects, int Fetches, int Searches, int Appends, int Stores) Counts(ImapFaultProxy proxy) => (
        proxy.CommandCount("LOGIN") + proxy.CommandCount("AUTHENTICATE"),
        proxy.CommandCount("SELECT") + proxy.CommandCount("EXAMINE"),
        proxy.CommandCount("UID FETCH") + proxy.CommandCount("FETCH"),
        proxy.CommandCount("UID SEARCH") + proxy.CommandCount("SEARCH"),
        proxy.CommandCount("APPEND"),
        proxy.CommandCount("UID STORE") + proxy.CommandCount("STORE"));

    private static async Task Ok(RawImapSession raw, string command)
    {
        var response = await raw.CommandAsync(command);
        Assert.True(response.IsOk, $"{command}: {response}");
    }

    /// <summary>The UID of the message "prefix-n" in the selected folder, by a SEARCH on its Message-ID.</summary>
    private static async Task<uint> UidOf(RawImapSession raw, string prefix, int n)
    {
        var response = await raw.CommandAsync($"UID SEARCH HEADER Message-ID \"<{prefix}-{n}@sync.test>\"");
        var line = response.Untagged.Single(l => l.StartsWith("* SEARCH", StringComparison.Ordinal));
        return uint.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static SeedMessage Mail(string prefix, int n, MessageFlags flags = MessageFlags.None, params string[] keywords)
        => new(Encoding.ASCII.GetBytes($"Message-ID: <{prefix}-{n}@sync.test>\r\nFrom: a@example.org\r\nSubject: {prefix} {n}\r\n\r\nbody {n}\r\n"), Start.AddHours(n), flags, keywords);

    private static SeedMessage NoMessageId(string prefix, int n, MessageFlags flags = MessageFlags.None)
        => new(Encoding.ASCII.GetBytes($"From: a@example.org\r\nSubject: {prefix} {n} without an id\r\n\r\nbody {n}\r\n"), Start.AddHours(n), flags, []);
}
