using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// What Cyrus and Courier do differently from Dovecot, and what MailSync does about it: a keyword
/// limit, CREATE-SPECIAL-USE, an account whose personal namespace is NIL, no CONDSTORE.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class OtherServerBehaviourTests(ServersFixture servers)
{
    [Fact]
    public async Task Keywords_past_Cyrus_limit_are_dropped_by_name_and_every_message_is_still_copied()
    {
        // 130 messages in one folder, each with a keyword of its own: Cyrus takes 100 keywords per mailbox.
        var messages = Enumerable.Range(0, 130).Select(i => new SeedMessage(
            System.Text.Encoding.ASCII.GetBytes($"Message-ID: <kw{i}@test>\r\nSubject: keyword {i}\r\n\r\nbody {i}\r\n"),
            new DateTimeOffset(2021, 1, 1, 0, 0, 0, TimeSpan.Zero).AddHours(i), MessageFlags.Seen, [$"kw{i:D3}", "$Common"])).ToList();
        var crowded = await servers.Dovecot.CreateUserAsync("kw-src");
        await servers.Dovecot.SeedAsync(crowded, "Crowded", messages);
        var crowdedTarget = await servers.Cyrus.CreateUserAsync("kw-dst");
        using var crowdedJob = JobFile.Create(servers.Dovecot, crowded, servers.Cyrus, crowdedTarget, ", \"include\": [\"Crowded\"]");
        var crowdedResult = await crowdedJob.RunAsync();
        Assert.True(crowdedResult.Error is null, crowdedResult.Error);
        Assert.Empty(crowdedResult.Failures);
        Assert.Equal(JobStatus.Succeeded, crowdedResult.Status);
        var folder = Assert.Single(crowdedResult.Folders, f => f.SourceFolder == "Crowded");
        Assert.Equal(130, folder.Copied);
        var onTarget = (await Mailbox.ReadAllAsync(servers.Cyrus, crowdedTarget))["Crowded"].Messages;
        Assert.Equal(130, onTarget.Count);
        var kept = onTarget.SelectMany(m => m.Flags.Split(' ')).Where(k => k.StartsWith("kw", StringComparison.Ordinal)).ToHashSet();
        // Every keyword is either on its copy or named as dropped; Cyrus kept 100 names in all.
        Assert.Equal(130 - kept.Count, folder.DroppedKeywords.Keys.Count(k => k.StartsWith("kw", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(0, 130).Select(i => $"kw{i:D3}").Order(), kept.Concat(folder.DroppedKeywords.Keys.Where(k => k.StartsWith("kw", StringComparison.Ordinal))).Order());
        Assert.InRange(kept.Count, 90, 99);

        // A second run appends nothing and does not try the refused keywords again and again.
        var again = await crowdedJob.RunAsync();
        Assert.Equal(0, again.Appended);
        Assert.Empty(again.Failures);

        // A new keyword set on the source later cannot reach the full folder either: the flag
        // change is carried without it, and the keyword is named.
        using (var client = await servers.Dovecot.ConnectAsync(crowded))
        {
            var folderOnSource = await client.GetFolderAsync("Crowded");
            await folderOnSource.OpenAsync(FolderAccess.ReadWrite);
            await folderOnSource.AddFlagsAsync(0, MessageFlags.Flagged, new HashSet<string> { "late-keyword" }, silent: true);
            await client.DisconnectAsync(true);
        }

        var late = await crowdedJob.RunAsync();
        Assert.True(late.Error is null, late.Error);
        Assert.Empty(late.Failures);
        var lateFolder = Assert.Single(late.Folders, f => f.SourceFolder == "Crowded");
        Assert.Equal(1, lateFolder.FlagsUpdated);
        Assert.Equal(["late-keyword"], lateFolder.DroppedKeywords.Keys);
        var first = (await Mailbox.ReadAllAsync(servers.Cyrus, crowdedTarget))["Crowded"].Messages[0];
        Assert.Contains("\\Flagged", first.Flags, StringComparison.Ordinal);
        Assert.DoesNotContain("late-keyword", first.Flags, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Folders_with_a_role_are_created_with_that_special_use_where_the_target_offers_CREATE_SPECIAL_USE()
    {
        // Cyrus as the source too: Dovecot sets special-use by configuration, not by CREATE.
        var source = await servers.Cyrus.CreateUserAsync("use-src");
        using (var client = await servers.Cyrus.ConnectAsync(source))
        {
            var root = client.GetFolder(client.PersonalNamespaces[0])!;
            await root.CreateAsync("Sent Messages", [SpecialFolder.Sent]);
            await root.CreateAsync("Deleted", [SpecialFolder.Trash]);
            await root.CreateAsync("Plain", isMessageFolder: true);
            await client.DisconnectAsync(true);
        }

        var target = await servers.Cyrus.CreateUserAsync("use-dst");
        using var job = JobFile.Create(servers.Cyrus, source, servers.Cyrus, target);
        var result = await job.RunAsync();
        Assert.True(result.Error is null, result.Error);

        using var check = await servers.Cyrus.ConnectAsync(target);
        var folders = await check.GetFoldersAsync(check.PersonalNamespaces[0]);
        var sent = Assert.Single(folders, f => (f.Attributes & FolderAttributes.Sent) != 0);
        var trash = Assert.Single(folders, f => (f.Attributes & FolderAttributes.Trash) != 0);
        // The mapper names a role folder the target lacks after its role ("Sent", "Trash"); the copy goes there.
        Assert.Equal(result.Folders.Single(f => f.SourceFolder.EndsWith("Sent Messages", StringComparison.Ordinal)).TargetFolder, sent.FullName);
        Assert.Equal(result.Folders.Single(f => f.SourceFolder.EndsWith("Deleted", StringComparison.Ordinal)).TargetFolder, trash.FullName);
        var plain = Assert.Single(folders, f => f.Name == "Plain");
        Assert.Equal(FolderAttributes.None, plain.Attributes & (FolderAttributes.Sent | FolderAttributes.Trash | FolderAttributes.Drafts | FolderAttributes.Junk | FolderAttributes.Archive));
    }

    [Fact]
    public async Task An_account_whose_personal_namespace_is_NIL_is_a_clear_account_error_as_target_and_an_empty_source()
    {
        var empty = await servers.Cyrus.CreateUserAsync("nil", createInbox: false);
        var dovecotUser = await servers.Dovecot.CreateUserAsync("nil-peer");
        await servers.Dovecot.SeedAsync(dovecotUser, "INBOX", Synthetic.Messages(3, seed: 7));

        // As a target: nothing can be created, and the run says why instead of crashing.
        using var toNil = JobFile.Create(servers.Dovecot, dovecotUser, servers.Cyrus, empty);
        var into = await toNil.RunAsync();
        Assert.True(into.Error is not null, $"{into.Status} appended {into.Appended}, failures: {string.Join("; ", into.Failures.Select(f => f.Reason))}; folders: {string.Join("; ", into.Folders.Select(f => f.TargetFolder + " " + f.Error))}");
        Assert.Contains("no personal namespace", into.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("ArgumentOutOfRange", into.Error, StringComparison.Ordinal);

        // As a source: an account with no mailbox at all has nothing to copy.
        var target = await servers.Dovecot.CreateUserAsync("nil-dst");
        using var fromNil = JobFile.Create(servers.Cyrus, empty, servers.Dovecot, target);
        var from = await fromNil.RunAsync();
        Assert.True(from.Error is null, from.Error);
        Assert.Equal(0, from.Appended);
    }

    [Fact]
    public async Task Flag_changes_on_a_source_without_CONDSTORE_reach_the_copies_on_the_next_run()
    {
        var source = await servers.Courier.CreateUserAsync("flags-src");
        await servers.Courier.SeedAsync(source, "INBOX", Synthetic.Messages(6, seed: 11).Select(m => m with { Flags = MessageFlags.None, Keywords = [] }));
        var target = await servers.Dovecot.CreateUserAsync("flags-dst");
        using var job = JobFile.Create(servers.Courier, source, servers.Dovecot, target);
        var first = await job.RunAsync();
        Assert.Equal(6, first.Appended);

        // Nothing else changes: no new message, so UIDNEXT and the count stay as they were.
        using (var client = await servers.Courier.ConnectAsync(source))
        {
            await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
            await client.Inbox.AddFlagsAsync([0, 2], MessageFlags.Seen | MessageFlags.Flagged, silent: true);
            await client.Inbox.AddFlagsAsync(4, MessageFlags.None, new HashSet<string> { "$Label2" }, silent: true);
            await client.DisconnectAsync(true);
        }

        var second = await job.RunAsync();
        Assert.Equal(0, second.Appended);
        Assert.Equal(3, second.Folders.Single(f => f.SourceFolder == "INBOX").FlagsUpdated);
        var copies = (await Mailbox.ReadAllAsync(servers.Dovecot, target))["INBOX"].Messages;
        Assert.Equal(["\\Flagged \\Seen", "", "\\Flagged \\Seen", "", "$Label2", ""], copies.Select(c => c.Flags));

        var third = await job.RunAsync();
        Assert.Equal(0, third.Folders.Single(f => f.SourceFolder == "INBOX").FlagsUpdated);
    }
}
