using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using MimeKit;
using MimeKit.Utils;
using Xunit.Abstractions;

namespace MailSync.Tests.Integration;

/// <summary>
/// The whole corpus in a POP3 maildrop (plain POP3 and POP3 over TLS), migrated into one IMAP
/// folder, then compared message by message: bytes, dates by the Received/Date/retrieval rule, flags.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed partial class Pop3CorpusTests(DovecotFixture fixture, ITestOutputHelper output)
{
    private DovecotServer Server => fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Corpus_through_POP3_lands_byte_exact_with_dates_by_rule_and_a_rerun_appends_nothing(bool tls)
    {
        var source = await Server.CreateUserAsync("pop-corpus");
        var target = await Server.CreateUserAsync("pop-corpus-dst");
        await SeedCorpusAsync(source);
        var served = await Pop3Box.ReadAllAsync(Server, source);
        Assert.Equal(Corpus.Messages.Count, served.Count);

        var popAccount = tls
            ? $"\"port\": {Server.Pop3sPort}, \"security\": \"ssl\", \"certificateFingerprint\": \"{Server.CertificateSha256}\""
            : null;
        using var job = JobFile.CreatePop3(Server, source, Server, target,
            ", \"targetFolder\": \"Imported/Old POP\", \"targetFlags\": [\"\\\\Seen\", \"$Imported\"]", popAccount);
        var config = job.Load();
        var runner = new JobRunner(Serilog.Core.Logger.None, NullMigrationObserver.Instance);

        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        var clock = Stopwatch.StartNew();
        var result = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        clock.Stop();
        var finished = DateTimeOffset.UtcNow.AddSeconds(1);
        Assert.Null(result.Error);
        // POP3 hands out the one corpus message with NUL bytes as it is stored; IMAP APPEND cannot
        // carry NUL (no BINARY in MailKit), so it is refused by name, and everything else is copied.
        var withNul = served.Where(m => m.Bytes.Contains((byte)0)).ToList();
        Assert.Equal(Corpus.Messages.Count(e => e.Tags.Contains("has-nul")), withNul.Count);
        Assert.Equal(withNul.Select(m => m.Uidl).Order(), result.Failures.Select(f => f.SourceKey!).Order());
        Assert.All(result.Failures, f => Assert.Contains("NUL bytes", f.Reason));
        Assert.Equal(JobStatus.CompletedWithFailures, result.Status);
        served = served.Except(withNul).ToList();
        Assert.Equal(served.Count, result.Appended);
        var folder = Assert.Single(result.Folders);
        Assert.Equal("UIDL", folder.SourceIdentity);
        Assert.Equal(0, folder.DeletedFromSource);

        var dst = await Mailbox.ReadAllAsync(Server, target);
        var copies = dst["Imported/Old POP"].Messages;
        Assert.Equal(served.Count, copies.Count);
        Assert.True(dst["Imported/Old POP"].Subscribed);

        // Bytes: the copies are, as a multiset, exactly what POP3 RETR serves.
        static string Hash(byte[] b) => Convert.ToHexString(SHA256.HashData(b));
        Assert.Equal(served.Select(m => Hash(m.Bytes)).Order(), copies.Select(m => Hash(m.Bytes)).Order());

        // Dates: each copy's INTERNALDATE follows the rule, checked by an independent reading of its headers.
        var bySource = new Dictionary<string, int>();
        foreach (var copy in copies)
        {
            var (expected, rule) = ExpectedDate(copy.Bytes);
            bySource[rule] = bySource.GetValueOrDefault(rule) + 1;
            if (rule == "Retrieval")
                Assert.InRange(copy.InternalDate, started, finished);
            else
                Assert.Equal(expected!.Value.ToUnixTimeSeconds(), copy.InternalDate.ToUnixTimeSeconds());
            Assert.Equal("\\Seen $Imported", copy.Flags);
        }

        Assert.Equal(bySource.OrderBy(p => p.Key), folder.DateSources.OrderBy(p => p.Key));
        Assert.Equal(bySource.GetValueOrDefault("Date") + bySource.GetValueOrDefault("Retrieval"), folder.DatedWithoutReceived.Count);

        var equalToCorpusFile = copies.Select(c => Hash(c.Bytes)).ToHashSet();
        var matchingFiles = Corpus.Messages.Count(e => equalToCorpusFile.Contains(Hash(Corpus.Normalize(File.ReadAllBytes(e.FullPath)))));
        output.WriteLine($"POP3 ({(tls ? "TLS" : "plain")}): {copies.Count} copied in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"{matchingFiles} equal to their CRLF-normalized corpus file; dates: {string.Join(", ", bySource.Select(p => $"{p.Key} {p.Value}"))}");

        // The maildrop is untouched and a second run appends nothing.
        Assert.Equal(served.Concat(withNul).Select(m => m.Uidl).Order(), (await Pop3Box.ReadAllAsync(Server, source)).Select(m => m.Uidl).Order());
        var rerun = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        // The refused message is reported again (it is still not on the target), and nothing is appended.
        Assert.Equal(JobStatus.CompletedWithFailures, rerun.Status);
        Assert.Equal(withNul.Select(m => m.Uidl).Order(), rerun.Failures.Select(f => f.SourceKey!).Order());
        Assert.Equal(0, rerun.Appended);
        Assert.Equal(served.Count, rerun.Folders[0].AlreadyCopied);
        Assert.Equal(copies.Count, (await Mailbox.ReadAllAsync(Server, target))["Imported/Old POP"].Messages.Count);
    }

    /// <summary>The rule written out again, apart from the product code: newest Received date, else Date, else none.</summary>
    internal static (DateTimeOffset? Date, string Rule) ExpectedDate(byte[] message)
    {
        var headers = HeaderList.Load(new MemoryStream(message));
        var latest = DateTimeOffset.UtcNow.AddDays(1);
        var floor = new DateTimeOffset(1971, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var received = headers.Where(h => h.Id == HeaderId.Received)
            .Select(h => TrailingDate().Match(h.Value))
            .Where(m => m.Success)
            .Select(m => DateUtils.TryParse(m.Groups[1].Value, out var d) && d >= floor && d <= latest ? d : (DateTimeOffset?)null)
            .Where(d => d is not null)
            .Max();
        if (received is not null)
            return (received, "Received");
        if (headers[HeaderId.Date] is { } text && DateUtils.TryParse(text, out var date) && date >= floor && date <= latest)
            return (date, "Date");
        return (null, "Retrieval");
    }

    /// <summary>Every corpus message in the user's INBOX: by APPEND, and those with NUL bytes by doveadm save.</summary>
    internal static async Task SeedCorpusAsync(DovecotServer server, TestUser user)
    {
        var start = new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var appendable = Corpus.Messages.Where(e => !e.Tags.Contains("has-nul"))
            .Select((e, i) => new SeedMessage(File.ReadAllBytes(e.FullPath), start.AddMinutes(i * 977L), 0, []));
        await server.SeedAsync(user, "INBOX", appendable);
        foreach (var entry in Corpus.Messages.Where(e => e.Tags.Contains("has-nul")))
            await server.DoveadmAsync(File.ReadAllBytes(entry.FullPath), "save", "-u", user.Name, "-m", "INBOX");
    }

    private Task SeedCorpusAsync(TestUser user) => SeedCorpusAsync(Server, user);

    [GeneratedRegex(@";([^;]*)$", RegexOptions.Singleline)]
    private static partial Regex TrailingDate();
}
