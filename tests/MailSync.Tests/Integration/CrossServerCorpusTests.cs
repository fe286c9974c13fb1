using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// The corpus migrated between different servers (Dovecot, Cyrus 3.6, Courier 5.0), each way. The
/// source is seeded without MailSync (Dovecot: files in a Maildir; Cyrus and Courier: hand-written
/// APPENDs), then every message on the target is compared with what the source serves. A copy may
/// differ, or be missing, only where the target server itself does that to those bytes: the same
/// bytes APPENDed by hand must come back the same, or be refused with the same words
/// (<see cref="HandAppend"/>). Cyrus replaces 8-bit header bytes with 'X' and refuses NUL; Courier
/// drops bare CRs and adds a missing final line break; nothing else may change.
/// </summary>
[Collection(ServersCollection.Name)]
public sealed class CrossServerCorpusTests(ServersFixture servers, ITestOutputHelper output)
{
    [Theory]
    [InlineData("Dovecot", "Cyrus")]
    [InlineData("Cyrus", "Dovecot")]
    [InlineData("Dovecot", "Courier")]
    [InlineData("Courier", "Dovecot")]
    public async Task Corpus_is_copied_as_the_source_serves_it_and_only_the_target_server_changes_anything(string from, string to)
    {
        var sourceServer = servers[from];
        var targetServer = servers[to];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var source = await SeedAsync(sourceServer);
        var seeded = clock.Elapsed;
        var target = await targetServer.CreateTestUserAsync("cross-dst");
        var served = await Mailbox.ReadAllAsync(sourceServer, source);

        using var job = JobFile.Create(sourceServer, source, targetServer, target);
        var beforeRun = clock.Elapsed;
        var result = await job.RunAsync();
        var ran = clock.Elapsed - beforeRun;
        Assert.True(result.Error is null, $"{result.Error}\n{(sourceServer as CyrusServer)?.ReadLogTail()}");
        var copied = await Mailbox.ReadAllAsync(targetServer, target);

        await using var byHand = await HandAppend.OpenAsync(targetServer);
        int identical = 0, changedByTarget = 0, refusedByTarget = 0;
        var refusals = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var perSource = new SortedDictionary<string, (int Served, int Identical, int Changed, int Refused)>(StringComparer.Ordinal);
        foreach (var (path, folder) in served)
        {
            Assert.True(copied.ContainsKey(path), $"{path} is missing on {to}");
            var copies = copied[path].Messages;
            var next = 0;
            var corpusSource = path == "INBOX" ? "mimekit" : path.Split('/')[^1];
            void Count(int identicalHere, int changedHere, int refusedHere)
            {
                var (n, i, c, r) = perSource.GetValueOrDefault(corpusSource);
                perSource[corpusSource] = (n + 1, i + identicalHere, c + changedHere, r + refusedHere);
            }

            foreach (var message in folder.Messages)
            {
                var failure = result.Failures.SingleOrDefault(f => f.SourceUid == message.Uid && Normalize(f.SourceFolder) == path);
                if (failure is not null)
                {
                    var (_, refusal) = await byHand.StoreAsync(message.Bytes);
                    Assert.True(refusal is not null, $"{path} UID {message.Uid} was not copied ({failure.Reason}), but {to} takes those bytes when APPENDed by hand");
                    Assert.Contains(refusal!.Split(' ', 2)[1].Split('(')[0].Trim(), failure.Reason, StringComparison.Ordinal);
                    refusals[failure.Reason] = refusals.GetValueOrDefault(failure.Reason) + 1;
                    refusedByTarget++;
                    Count(0, 0, 1);
                    continue;
                }

                Assert.True(next < copies.Count, $"{path}: {copies.Count} copies, fewer than the source's messages");
                var copy = copies[next++];
                Assert.Equal(message.InternalDate.UtcDateTime, copy.InternalDate.UtcDateTime);
                Assert.Equal(message.Flags, copy.Flags);
                if (message.Bytes.AsSpan().SequenceEqual(copy.Bytes))
                {
                    identical++;
                    Count(1, 0, 0);
                    continue;
                }

                var (stored, _) = await byHand.StoreAsync(message.Bytes);
                Assert.True(stored is not null && stored.AsSpan().SequenceEqual(copy.Bytes), $"{path} UID {message.Uid}: the copy differs from what {from} serves, and not as {to} stores those bytes by hand");
                changedByTarget++;
                Count(0, 1, 0);
            }

            Assert.Equal(copies.Count, next);
        }

        var total = served.Values.Sum(f => f.Messages.Count);
        output.WriteLine($"seeded in {seeded.TotalSeconds:F1} s, migrated in {ran.TotalSeconds:F1} s, checked by {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine($"{from} -> {to}: {total} served by {from}; {identical} identical on {to}, {changedByTarget} changed as {to} itself stores them, {refusedByTarget} refused by {to} ({string.Join("; ", refusals.Select(r => $"{r.Value}× {r.Key}"))})");
        output.WriteLine("per corpus source (identical/served, then changed and refused by the target): " + string.Join(", ",
            perSource.Select(p => $"{p.Key} {p.Value.Identical}/{p.Value.Served}" + (p.Value.Changed + p.Value.Refused > 0 ? $" (+{p.Value.Changed} changed, {p.Value.Refused} refused)" : ""))));
        Assert.Equal(total, identical + changedByTarget + refusedByTarget);
        Assert.Equal(result.Failures.Count, refusedByTarget);

        // A second run has nothing to append.
        var again = await job.RunAsync();
        Assert.Equal(0, again.Appended);
    }

    /// <summary>
    /// A source user holding the corpus in one folder per corpus source (plus INBOX), with flags,
    /// keywords and dates, put there without MailSync. Messages the source server refuses (Cyrus:
    /// bare LF, NUL) go in with CRLF line ends, or not at all; the empty one is not offered to
    /// Cyrus and Courier (a zero-length literal confuses Cyrus's command parser).
    /// </summary>
    private async Task<TestUser> SeedAsync(IImapTestServer server)
    {
        var messages = Corpus.Messages.Select((entry, index) => (Folder: FolderFor(entry.RelativePath), Seed: new SeedMessage(
            File.ReadAllBytes(entry.FullPath), DateFor(index), FlagsFor(index), KeywordsFor(index)))).ToList();
        if (server is DovecotServer dovecot)
        {
            var user = await dovecot.CreateMaildirUserAsync("cross-src");
            foreach (var group in messages.GroupBy(m => m.Folder))
                dovecot.WriteMaildir(user, group.Key, group.Select(m => m.Seed));
            return user;
        }

        var seeded = await server.CreateTestUserAsync("cross-src");
        var names = new Dictionary<string, string>();
        using (var client = await server.ConnectAsync(seeded))
        {
            var root = client.GetFolder(client.PersonalNamespaces[0]) ?? throw new InvalidOperationException("no personal namespace folder");
            foreach (var folder in messages.Select(m => m.Folder).Distinct().Where(f => f != "INBOX"))
            {
                IMailFolder parent = root;
                foreach (var segment in folder.Split('/'))
                {
                    var existing = (await parent.GetSubfoldersAsync()).FirstOrDefault(f => f.Name == segment);
                    parent = existing ?? await parent.CreateAsync(segment, isMessageFolder: true)
                        ?? throw new InvalidOperationException($"{server.Name} did not create {segment}");
                }

                names[folder] = parent.FullName;
            }

            await client.DisconnectAsync(quit: true);
        }

        await using var session = await RawImapSession.LoginAsync(server.Host, server.ImapPort, seeded.Name, seeded.Password);
        foreach (var (folder, seed) in messages.Where(m => m.Seed.Raw.Length > 0))
        {
            var name = folder == "INBOX" ? "INBOX" : names[folder];
            var (_, refusal) = await session.TryAppendAsync(name, seed.Raw, seed.Flags, seed.Keywords, seed.InternalDate);
            if (refusal is not null)
                await session.TryAppendAsync(name, Corpus.ToCrlf(seed.Raw), seed.Flags, seed.Keywords, seed.InternalDate);
        }

        return seeded;
    }

    private static string Normalize(string folder) => folder.StartsWith("INBOX.", StringComparison.Ordinal) ? folder[6..].Replace('.', '/') : folder;

    /// <summary>mimekit into INBOX, every other corpus source into Corpus/NAME (no deeper: Cyrus and Courier names use '.').</summary>
    private static string FolderFor(string relativePath)
    {
        var source = relativePath.Split('/')[1];
        return source == "mimekit" ? "INBOX" : "Corpus/" + source;
    }

    private static MessageFlags FlagsFor(int i)
        => (i % 2 == 0 ? MessageFlags.Seen : 0) | (i % 3 == 0 ? MessageFlags.Flagged : 0) | (i % 5 == 0 ? MessageFlags.Answered : 0) | (i % 11 == 0 ? MessageFlags.Draft : 0);

    private static string[] KeywordsFor(int i)
        => i % 7 == 0 ? ["$Forwarded", "project-x"] : i % 4 == 0 ? ["$Label1"] : [];

    private static DateTimeOffset DateFor(int i)
        => new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i * 977L).ToOffset(TimeSpan.FromHours(i % 5 - 2));
}
