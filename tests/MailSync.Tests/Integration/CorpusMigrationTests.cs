using System.Diagnostics;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// The whole corpus, spread over nested folders with flags, keywords and dates, migrated between
/// two users of a real Dovecot, then compared message by message.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class CorpusMigrationTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Corpus_is_migrated_byte_exact_with_dates_flags_tree_and_subscriptions_and_a_rerun_appends_nothing()
    {
        var source = await Server.CreateUserAsync("corpus-src");
        var target = await Server.CreateUserAsync("corpus-dst");
        await SeedCorpusAsync(source);
        var expectedRefused = new HashSet<string>();

        using var job = JobFile.Create(Server, source, Server, target);
        var config = job.Load();
        var runner = new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance);

        var first = Stopwatch.StartNew();
        var results = await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None);
        first.Stop();
        var result = Assert.Single(results);
        Assert.Null(result.Error);
        // Nothing is refused: Dovecot hands out a stored NUL as 0x80 over IMAP (no BINARY fetch),
        // so even the corpus message with NUL bytes reaches the target as the source serves it.
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Empty(result.Failures);

        var src = await Mailbox.ReadAllAsync(Server, source);
        var dst = await Mailbox.ReadAllAsync(Server, target);

        // Folder tree: same paths, except that "Sent Items" lands in the target's \Sent folder "Sent".
        static string Expected(string path) => path == "Sent Items" ? "Sent" : path;
        Assert.Equal(src.Keys.Select(Expected).Order(), dst.Keys.Order());
        Assert.Equal(src.Values.Where(f => f.Subscribed).Select(f => Expected(f.Path)).Order(), dst.Values.Where(f => f.Subscribed).Select(f => f.Path).Order());

        int identical = 0, equalToCorpusFile = 0;
        foreach (var (path, folder) in src)
        {
            var carried = folder.Messages.Where(m => !expectedRefused.Contains(m.Uid + "@" + path)).ToList();
            var copies = dst[Expected(path)].Messages;
            Assert.Equal(carried.Count, copies.Count);
            for (var i = 0; i < carried.Count; i++)
            {
                Assert.True(carried[i].Bytes.AsSpan().SequenceEqual(copies[i].Bytes), Difference(path, carried[i], copies[i]));
                Assert.Equal(carried[i].InternalDate, copies[i].InternalDate);
                Assert.Equal(carried[i].Flags, copies[i].Flags);
                identical++;
            }
        }

        // Against the corpus files themselves (what the server was given): CRLF-normalized equality.
        var all = dst.Values.SelectMany(f => f.Messages).Select(m => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(m.Bytes))).ToHashSet();
        foreach (var entry in Corpus.Messages.Where(e => !e.Tags.Contains("has-nul")))
        {
            if (all.Contains(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Corpus.Normalize(File.ReadAllBytes(entry.FullPath))))))
                equalToCorpusFile++;
        }

        output.WriteLine($"corpus: {Corpus.Messages.Count} files, {identical} carried byte-identical to the source server's copy, {equalToCorpusFile} equal to the CRLF-normalized corpus file, {result.Failures.Count} refused: {string.Join("; ", result.Failures.Select(f => f.SourceFolder + " " + f.MessageId + ": " + f.Reason))}; first run {first.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(Corpus.Messages.Count - expectedRefused.Count, identical);

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

    /// <summary>Seeds every corpus message: by IMAP APPEND, and those with NUL bytes (which APPEND cannot carry) by doveadm save.</summary>
    private async Task SeedCorpusAsync(TestUser user)
    {
        var byFolder = Corpus.Messages.Select((entry, index) => (entry, index)).GroupBy(x => FolderFor(x.entry.RelativePath)).ToList();
        foreach (var group in byFolder)
        {
            var messages = group.Where(x => !x.entry.Tags.Contains("has-nul")).Select(x =>
                new SeedMessage(File.ReadAllBytes(x.entry.FullPath), DateFor(x.index), FlagsFor(x.index), KeywordsFor(x.index)));
            await Server.SeedAsync(user, group.Key, messages, subscribe: group.Key != "Corpus/rspamd");
        }

        foreach (var (entry, _) in byFolder.SelectMany(g => g).Where(x => x.entry.Tags.Contains("has-nul")))
            await Server.DoveadmAsync(File.ReadAllBytes(entry.FullPath), "save", "-u", user.Name, "-m", FolderFor(entry.RelativePath));
    }

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
