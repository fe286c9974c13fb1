using System.Diagnostics;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// The whole corpus, written as files into a source user's Maildir (so the source holds the corpus
/// bytes, never bytes that went through an APPEND), spread over nested folders with flags,
/// keywords and dates, migrated to another user of a real Dovecot, then compared message by
/// message: every copy must be byte for byte what the source serves.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class CorpusMigrationTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Corpus_is_migrated_byte_exact_with_dates_flags_tree_and_subscriptions_and_a_rerun_appends_nothing()
    {
        var source = await Server.CreateMaildirUserAsync("corpus-src");
        var target = await Server.CreateUserAsync("corpus-dst");
        await SeedCorpusAsync(source);
        var src = await Mailbox.ReadAllAsync(Server, source);
        Assert.Equal(Corpus.Messages.Count, src.Values.Sum(f => f.Messages.Count));
        // Dovecot stores no zero-byte message ("NO Can't save a zero byte message"): the corpus's
        // empty file is served by the source and must be refused by name, the one thing not copied.
        var expectedRefused = src.SelectMany(f => f.Value.Messages.Where(m => m.Bytes.Length == 0).Select(m => m.Uid + "@" + f.Key)).ToHashSet();
        Assert.Single(expectedRefused);

        using var job = JobFile.Create(Server, source, Server, target);
        var config = job.Load();
        var runner = new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance);

        var first = Stopwatch.StartNew();
        var results = await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None);
        first.Stop();
        var result = Assert.Single(results);
        Assert.Null(result.Error);
        // Dovecot hands out a stored NUL as 0x80 over IMAP (BODY[]), so the corpus message with NUL
        // bytes reaches the target as the source serves it; only the empty message is refused.
        Assert.Equal(JobStatus.CompletedWithFailures, result.Status);
        var refused = Assert.Single(result.Failures);
        Assert.Equal(0, refused.Size);
        Assert.Contains("zero byte", refused.Reason, StringComparison.Ordinal);
        Assert.Empty(result.Warnings);

        var dst = await Mailbox.ReadAllAsync(Server, target);

        // Folder tree: same paths, except that "Sent Items" lands in the target's \Sent folder "Sent";
        // the target (sdbox) also holds, empty, the parents a Maildir++ source only implies.
        static string Expected(string path) => path == "Sent Items" ? "Sent" : path;
        var parents = src.Keys.SelectMany(p => Enumerable.Range(1, p.Split('/').Length - 1).Select(n => string.Join('/', p.Split('/')[..n])))
            .Distinct().Except(src.Keys).ToList();
        Assert.Equal(src.Keys.Select(Expected).Union(parents).Order(), dst.Keys.Order());
        Assert.All(parents, p => Assert.Empty(dst[p].Messages));
        Assert.Equal(src.Values.Where(f => f.Subscribed).Select(f => Expected(f.Path)).Order(), dst.Values.Where(f => f.Subscribed).Select(f => f.Path).Order());

        int identical = 0, equalToCorpusFile = 0;
        var changedByServer = new List<string>();
        var perSource = new SortedDictionary<string, (int Served, int Identical)>(StringComparer.Ordinal);
        foreach (var (path, folder) in src)
        {
            var carried = folder.Messages.Where(m => !expectedRefused.Contains(m.Uid + "@" + path)).ToList();
            var copies = dst[Expected(path)].Messages;
            Assert.Equal(carried.Count, copies.Count);
            var corpusSource = SourceOf(path);
            var (served, same) = perSource.GetValueOrDefault(corpusSource);
            perSource[corpusSource] = (served + folder.Messages.Count, same);
            for (var i = 0; i < carried.Count; i++)
            {
                Assert.Equal(carried[i].InternalDate, copies[i].InternalDate);
                Assert.Equal(carried[i].Flags, copies[i].Flags);
                if (!carried[i].Bytes.AsSpan().SequenceEqual(copies[i].Bytes))
                {
                    // Allowed only where the target server itself stores these bytes so: the same
                    // bytes APPENDed by hand must come back exactly as the copy did.
                    Assert.True((await HandAppend.StoreAsync(Server, carried[i].Bytes)).Stored.AsSpan().SequenceEqual(copies[i].Bytes), Difference(path, carried[i], copies[i]));
                    changedByServer.Add($"{path} UID {carried[i].Uid}");
                    continue;
                }


                identical++;
                perSource[corpusSource] = (perSource[corpusSource].Served, perSource[corpusSource].Identical + 1);
            }
        }

        // Against the corpus files themselves: Dovecot serves a Maildir file with LF turned into CRLF.
        var all = dst.Values.SelectMany(f => f.Messages).Select(m => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m.Bytes))).ToHashSet();
        foreach (var entry in Corpus.Messages)
        {
            if (all.Contains(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Corpus.ToCrlf(File.ReadAllBytes(entry.FullPath))))))
                equalToCorpusFile++;
        }

        output.WriteLine($"corpus: {Corpus.Messages.Count} files, {identical} carried byte-identical to what the source server serves, {equalToCorpusFile} equal to their corpus file with LF as CRLF, {result.Failures.Count} refused: {string.Join("; ", result.Failures.Select(f => f.SourceFolder + " " + f.MessageId + ": " + f.Reason))}; first run {first.Elapsed.TotalSeconds:F1} s");
        output.WriteLine("per corpus source (served by the source / identical on the target): " + string.Join(", ", perSource.Select(p => $"{p.Key} {p.Value.Identical}/{p.Value.Served}")));
        output.WriteLine($"changed by Dovecot's own APPEND (it drops a CR before CRLF when it stores a message, the same bytes APPENDed by hand come back the same): {changedByServer.Count}: {string.Join(", ", changedByServer)}");
        Assert.Equal(Corpus.Messages.Count - expectedRefused.Count, identical + changedByServer.Count);
        // Only the NUL message (served with 0x80 for NUL) and the refused empty one differ from their files.
        Assert.Equal(Corpus.Messages.Count - 2 - changedByServer.Count, equalToCorpusFile);

        // A second run finds nothing to do: zero APPENDs, every folder skipped as unchanged.
        var second = Stopwatch.StartNew();
        var rerun = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        second.Stop();
        output.WriteLine($"no-op second run: {second.Elapsed.TotalMilliseconds:F0} ms over {rerun.Folders.Count} folders");
        Assert.Equal(0, rerun.Appended);
        Assert.All(rerun.Folders, f => Assert.True(f.Unchanged, f.SourceFolder));
        var after = await Mailbox.ReadAllAsync(Server, target);
        Assert.Equal(dst.Values.Sum(f => f.Messages.Count), after.Values.Sum(f => f.Messages.Count));
    }

    /// <summary>Writes every corpus message, unchanged, as a file into the user's Maildir, then subscribes the folders (all but one).</summary>
    private async Task SeedCorpusAsync(TestUser user)
    {
        var byFolder = Corpus.Messages.Select((entry, index) => (entry, index)).GroupBy(x => FolderFor(x.entry.RelativePath)).ToList();
        foreach (var group in byFolder)
        {
            Server.WriteMaildir(user, group.Key, group.Select(x =>
                new SeedMessage(File.ReadAllBytes(x.entry.FullPath), DateFor(x.index), FlagsFor(x.index), KeywordsFor(x.index))));
        }

        using var client = await Server.ConnectAsync(user);
        foreach (var group in byFolder.Where(g => g.Key is not "INBOX" and not "Corpus/rspamd"))
            await (await client.GetFolderAsync(group.Key)).SubscribeAsync();

        await client.DisconnectAsync(quit: true);
    }

    /// <summary>The corpus source a folder's messages come from.</summary>
    private static string SourceOf(string folder) => folder switch
    {
        "INBOX" => "mimekit",
        "Sent Items" => "mailkit",
        _ => folder.Split('/')[1],
    };

    private static string Difference(string path, Mailbox.Message expected, Mailbox.Message actual)
    {
        var at = expected.Bytes.AsSpan().CommonPrefixLength(actual.Bytes);
        string Around(byte[] b) => System.Text.Encoding.Latin1.GetString(b, Math.Max(0, at - 40), Math.Min(b.Length, at + 40) - Math.Max(0, at - 40)).ReplaceLineEndings("|");
        return $"{path} UID {expected.Uid}: bytes differ at {at} (sizes {expected.Bytes.Length} vs {actual.Bytes.Length}): source «{Around(expected.Bytes)}» target «{Around(actual.Bytes)}»";
    }

    private static string FolderFor(string relativePath)
    {
        var parts = relativePath.Split('/');
        return parts[1] switch
        {
            "mimekit" => "INBOX",
            "mailkit" => "Sent Items",
            _ => string.Join('/', new[] { "Corpus" }.Concat(parts[1..^1])),
        };
    }

    private static MessageFlags FlagsFor(int i)
        => (i % 2 == 0 ? MessageFlags.Seen : 0) | (i % 3 == 0 ? MessageFlags.Flagged : 0) | (i % 5 == 0 ? MessageFlags.Answered : 0) | (i % 11 == 0 ? MessageFlags.Draft : 0);

    private static string[] KeywordsFor(int i)
        => i % 7 == 0 ? ["$Forwarded", "project-x"] : i % 4 == 0 ? ["$Label1"] : [];

    private static DateTimeOffset DateFor(int i)
        => new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i * 977L).ToOffset(TimeSpan.FromHours(i % 5 - 2));
}
