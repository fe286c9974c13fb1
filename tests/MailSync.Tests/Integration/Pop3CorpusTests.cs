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
        var source = await Server.CreateMaildirUserAsync("pop-corpus");
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
        // POP3 hands out the corpus message with NUL bytes as it is stored, and Dovecot offers BINARY:
        // it goes as a binary literal. Nothing is refused.
        var withNul = served.Where(m => m.Bytes.Contains((byte)0)).ToList();
        Assert.Equal(Corpus.Messages.Count(e => e.Tags.Contains("has-nul")), withNul.Count);
        // POP3 ends every message with a line break before the final "." (RFC 1939), so the empty
        // corpus file is served as one CRLF, and that is what the target must hold.
        Assert.Single(served, m => m.Bytes.AsSpan().SequenceEqual("\r\n"u8));
        Assert.Empty(result.Failures);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        var refusedUidls = Array.Empty<string>();
        Assert.Equal(served.Count, result.Appended);
        var folder = Assert.Single(result.Folders);
        Assert.Equal("UIDL", folder.SourceIdentity);
        Assert.Equal(0, folder.DeletedFromSource);

        var dst = await Mailbox.ReadAllAsync(Server, target);
        var copies = dst["Imported/Old POP"].Messages;
        Assert.Equal(served.Count, copies.Count);
        Assert.True(dst["Imported/Old POP"].Subscribed);

        // Bytes: the copies are, as a multiset, exactly what POP3 RETR serves. A copy with NUL bytes
        // is read back as BINARY.PEEK[], since BODY[] shows Dovecot's 0x80 in place of each NUL.
        static string Hash(byte[] b) => Convert.ToHexString(SHA256.HashData(b));
        var nulShown = copies.Where(c => withNul.Any(n => SameButNul(n.Bytes, c.Bytes))).ToList();
        Assert.Equal(withNul.Count, nulShown.Count);
        await using (var raw = await RawImapSession.LoginAsync(Server.Host, Server.ImapPort, target.Name, target.Password))
        {
            var stored = new List<string>();
            foreach (var copy in nulShown)
                stored.Add(Hash(await raw.FetchBinaryAsync("Imported/Old POP", copy.Uid)));
            Assert.Equal(withNul.Select(m => Hash(m.Bytes)).Order(), stored.Order());
        }

        // Where a copy differs, the target server itself must store those bytes so (Dovecot drops a
        // CR before CRLF): the same bytes APPENDed by hand come back as the copy did.
        var expectedCopies = new List<string>();
        var changedByServer = 0;
        var copyHashes = copies.Except(nulShown).Select(c => Hash(c.Bytes)).ToList();
        foreach (var message in served.Except(withNul))
        {
            var hash = Hash(message.Bytes);
            if (!copyHashes.Contains(hash))
            {
                hash = Hash((await HandAppend.StoreAsync(Server, message.Bytes)).Stored ?? []);
                changedByServer++;
            }

            expectedCopies.Add(hash);
        }

        Assert.Equal(expectedCopies.Order(), copyHashes.Order());

        // Per corpus source: the maildrop lists the files in the order they were written, so
        // RETR's n-th message is the n-th corpus file (checked: its bytes are the file's with LF
        // as CRLF, plus the line break POP3 ends every message with).
        var copyCounts = copies.GroupBy(c => Hash(c.Bytes)).ToDictionary(g => g.Key, g => g.Count());
        var perSource = new SortedDictionary<string, (int Served, int Identical)>(StringComparer.Ordinal);
        var listed = await Pop3Box.ReadAllAsync(Server, source);
        for (var i = 0; i < Corpus.Messages.Count; i++)
        {
            var file = Corpus.ToCrlf(File.ReadAllBytes(Corpus.Messages[i].FullPath));
            var servedBytes = listed[i].Bytes;
            Assert.True(servedBytes.AsSpan().SequenceEqual(file) || servedBytes.AsSpan().SequenceEqual([.. file, (byte)'\r', (byte)'\n']) || withNul.Any(n => n.Uidl == listed[i].Uidl),
                $"POP3 message {i + 1} is not {Corpus.Messages[i].RelativePath}");
            var name = Corpus.Messages[i].RelativePath.Split('/')[1];
            var identicalHere = copyCounts.TryGetValue(Hash(servedBytes), out var left) && left > 0 ? 1 : 0;
            if (identicalHere == 1)
                copyCounts[Hash(servedBytes)] = left - 1;
            var (n, same) = perSource.GetValueOrDefault(name);
            perSource[name] = (n + 1, same + identicalHere);
        }

        output.WriteLine("POP3 per corpus source (identical/served; the NUL message is checked as BINARY, not counted here): "
            + string.Join(", ", perSource.Select(p => $"{p.Key} {p.Value.Identical}/{p.Value.Served}")));
        Assert.InRange(changedByServer, 0, 1);

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
        var matchingFiles = Corpus.Messages.Count(e => equalToCorpusFile.Contains(Hash(Corpus.ToCrlf(File.ReadAllBytes(e.FullPath)))));
        output.WriteLine($"POP3 ({(tls ? "TLS" : "plain")}): {copies.Count} copied in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"{matchingFiles} equal to their corpus file with LF as CRLF (+{withNul.Count} with NUL, checked as BINARY; {changedByServer} as Dovecot's APPEND stores it), {result.Failures.Count} refused ({string.Join("; ", result.Failures.Select(f => f.Reason))}); dates: {string.Join(", ", bySource.Select(p => $"{p.Key} {p.Value}"))}");

        // The maildrop is untouched and a second run appends nothing.
        Assert.Equal(served.Select(m => m.Uidl).Concat(refusedUidls).Order(), (await Pop3Box.ReadAllAsync(Server, source)).Select(m => m.Uidl).Order());
        var rerun = Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None));
        Assert.Equal(JobStatus.Succeeded, rerun.Status);
        Assert.Equal(refusedUidls, rerun.Failures.Select(f => f.SourceKey!));
        Assert.Equal(0, rerun.Appended);
        Assert.Equal(served.Count, rerun.Folders[0].AlreadyCopied);
        Assert.Equal(copies.Count, (await Mailbox.ReadAllAsync(Server, target))["Imported/Old POP"].Messages.Count);
    }

    /// <summary>The rule written out again, apart from the product code: newest Received date, else Date, else none.</summary>
    internal static (DateTimeOffset? Date, string Rule) ExpectedDate(byte[] message)
    {
        // An mbox "From " line before the headers is not a header; a block that cannot be read at all has no dates.
        var start = message.AsSpan().StartsWith("From "u8) ? message.AsSpan().IndexOf((byte)'\n') + 1 : 0;
        HeaderList headers;
        try
        {
            headers = HeaderList.Load(new MemoryStream(message, start, message.Length - start));
        }
        catch (FormatException)
        {
            return (null, "Retrieval");
        }

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

    /// <summary>Every corpus message, unchanged, as a file in the user's Maildir INBOX (the user must be a Maildir user).</summary>
    internal static Task SeedCorpusAsync(DovecotServer server, TestUser user)
    {
        var start = new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);
        server.WriteMaildir(user, "INBOX", Corpus.Messages.Select((e, i) => new SeedMessage(File.ReadAllBytes(e.FullPath), start.AddMinutes(i * 977L), 0, [])));
        return Task.CompletedTask;
    }

    /// <summary>Equal but that <paramref name="shown"/> has 0x80 where <paramref name="stored"/> has NUL (Dovecot's BODY[] of a NUL).</summary>
    private static bool SameButNul(byte[] stored, byte[] shown)
        => stored.Length == shown.Length && stored.Zip(shown).All(p => p.First == p.Second || (p.First == 0 && p.Second == 0x80));

    private Task SeedCorpusAsync(TestUser user) => SeedCorpusAsync(Server, user);

    [GeneratedRegex(@";([^;]*)$", RegexOptions.Singleline)]
    private static partial Regex TrailingDate();
}
