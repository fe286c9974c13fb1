using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MailKit;
using MailKit.Search;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Integration;

/// <summary>
/// <c>mailsync run --retry-failed</c> against real Dovecot: the source is the shared server, the
/// target a private one whose quota_max_mail_size (64 KiB) refuses the big messages, then is
/// lifted by a restart on the same ports with the same mail.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class RetryFailedTests(DovecotFixture fixture)
{
    private static readonly DovecotOptions Limited = new() { MaxMailSizeKb = 64 };

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Run_help_describes_retry_failed()
    {
        var (code, output) = await CliProcess.RunAsync("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--retry-failed", output);
        Assert.Contains("earlier runs could not copy", output);
    }

    [Fact]
    public async Task Retry_failed_appends_exactly_the_earlier_failures_and_a_later_normal_run_copies_what_arrived_since()
    {
        await using var targetServer = await DovecotServer.StartAsync(Limited);
        var source = await Server.CreateUserAsync("retry-src");
        var target = await targetServer.CreateUserAsync("retry-dst");
        var inbox = Synthetic.Messages(10, seed: 61).Append(Big("inbox")).ToList();
        var projects = Synthetic.Messages(5, seed: 62).Append(Big("projects")).ToList();
        var lists = Synthetic.Messages(8, seed: 63).ToList();
        await Server.SeedAsync(source, "INBOX", inbox);
        await Server.SeedAsync(source, "Projects", projects);
        await Server.SeedAsync(source, "Lists", lists);
        using var job = JobFile.Create(Server, source, targetServer, target);
        var report = Path.Combine(job.Directory, "report.json");

        // 1. A normal run: the target refuses the two big messages; both are recorded with the server's reason.
        var (code, output) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report);
        Assert.True(code == ExitCodes.MessagesFailed, output);
        var failed = Rows(job.StatePath).Where(r => r.State == "failed").ToList();
        Assert.Equal(["INBOX", "Projects"], failed.Select(r => r.Folder).Order());
        Assert.All(failed, r => Assert.Equal(1, r.Attempts));
        Assert.All(failed, r => Assert.Contains("Mail size is larger than the maximum size allowed by server configuration", r.LastError));
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            var notCopied = doc.RootElement.GetProperty("jobs")[0].GetProperty("notCopied").EnumerateArray().ToList();
            Assert.Equal(2, notCopied.Count);
            Assert.All(notCopied, f => Assert.Contains("maximum size", f.GetProperty("reason").GetString()));
        }

        // 2. New mail arrives (a big one too: new, so not for a retry pass), and the target's limit is lifted.
        var laterInbox = Synthetic.Messages(5, seed: 64).Append(Big("later")).ToList();
        var laterLists = Synthetic.Messages(3, seed: 65).ToList();
        await Server.SeedAsync(source, "INBOX", laterInbox);
        await Server.SeedAsync(source, "Lists", laterLists);
        await targetServer.RestartAsync(new DovecotOptions());

        // 3. --retry-failed: exactly the two failures are appended; nothing new is touched.
        (code, output) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report, "--retry-failed");
        Assert.True(code == ExitCodes.Success, output);
        // Spectre wraps at 80 columns when the output is redirected.
        Assert.True(Regex.Replace(output, @"\s+", " ").Contains("test: Succeeded — retry of earlier failures: 2 retried, 2 now copied, 0 still failing", StringComparison.Ordinal), output);
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            var result = doc.RootElement.GetProperty("jobs")[0];
            Assert.True(result.GetProperty("retryFailed").GetBoolean());
            Assert.Equal("Succeeded", result.GetProperty("status").GetString());
            Assert.Equal(2, result.GetProperty("appended").GetInt32());
            var retry = result.GetProperty("retry");
            Assert.Equal((2, 2, 0, 0), (retry.GetProperty("retried").GetInt32(), retry.GetProperty("nowCopied").GetInt32(),
                retry.GetProperty("stillFailing").GetInt32(), retry.GetProperty("noLongerOnSource").GetInt32()));
            // Lists had no failure: not opened, not listed in the report.
            var folders = result.GetProperty("folders").EnumerateArray().ToList();
            Assert.Equal(["INBOX", "Projects"], folders.Select(f => f.GetProperty("sourceFolder").GetString()!).Order());
            Assert.All(folders, f => Assert.Equal((1, 1), (f.GetProperty("retried").GetInt32(), f.GetProperty("copied").GetInt32())));
            Assert.Empty(result.GetProperty("notCopied").EnumerateArray());
        }

        var afterRetry = await Mailbox.ReadAllAsync(targetServer, target);
        Assert.Equal(Hashes(inbox), Hashes(afterRetry["INBOX"]));
        Assert.Equal(Hashes(projects), Hashes(afterRetry["Projects"]));
        Assert.Equal(Hashes(lists), Hashes(afterRetry["Lists"]));
        var retried = Rows(job.StatePath).Where(r => r.LastError is not null).ToList();
        Assert.Equal(2, retried.Count);
        Assert.All(retried, r => Assert.Equal(("copied", 2), (r.State, r.Attempts)));

        // 4. A normal run copies what arrived meanwhile: the retry pass left the folders' cursors alone.
        (code, output) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report);
        Assert.True(code == ExitCodes.Success, output);
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            var result = doc.RootElement.GetProperty("jobs")[0];
            Assert.Equal(laterInbox.Count + laterLists.Count, result.GetProperty("appended").GetInt32());
            Assert.False(result.GetProperty("retryFailed").GetBoolean());
            Assert.Equal(JsonValueKind.Null, result.GetProperty("retry").ValueKind);
        }

        // The target holds every source message exactly once.
        var src = await Mailbox.ReadAllAsync(Server, source);
        var dst = await Mailbox.ReadAllAsync(targetServer, target);
        Assert.Equal(src.Keys.Order(), dst.Keys.Order());
        foreach (var folder in src.Keys)
            Assert.Equal(Hashes(src[folder]), Hashes(dst[folder]));
        Assert.Equal(inbox.Count + laterInbox.Count, dst["INBOX"].Messages.Count);
    }

    [Fact]
    public async Task A_retry_the_target_still_refuses_counts_the_attempt_and_a_failure_gone_from_the_source_keeps_its_row()
    {
        await using var targetServer = await DovecotServer.StartAsync(Limited);
        var source = await Server.CreateUserAsync("retry-still");
        var target = await targetServer.CreateUserAsync("retry-still-dst");
        var small = Synthetic.Messages(3, seed: 71).ToList();
        await Server.SeedAsync(source, "INBOX", small.Append(Big("stays")).Append(Big("goes")));
        await Server.SeedAsync(source, "Lists", Synthetic.Messages(4, seed: 72));
        using var job = JobFile.Create(Server, source, targetServer, target);
        Assert.Equal(2, (await job.RunAsync()).Failures.Count);

        // One refused message is deleted at the source; two new ones arrive.
        await ExpungeAsync(source, "INBOX", "<big-goes@mailsync.test>");
        var later = Synthetic.Messages(2, seed: 73).ToList();
        await Server.SeedAsync(source, "INBOX", later);
        var ledgerBefore = Rows(job.StatePath);

        // A dry run counts what a retry would try and changes nothing.
        var dry = await job.RunAsync(new MigrationOptions { RetryFailed = true, DryRun = true });
        Assert.Equal(new RetryCounts(1, 0, 0, 1), dry.Retry);
        Assert.Equal(ledgerBefore, Rows(job.StatePath));

        var retry = await job.RunAsync(new MigrationOptions { RetryFailed = true });
        Assert.Equal(JobStatus.CompletedWithFailures, retry.Status);
        Assert.Equal(ExitCodes.MessagesFailed, ExitCodes.From([retry]));
        Assert.Equal(new RetryCounts(1, 0, 1, 1), retry.Retry);
        Assert.Equal(0, retry.Appended);
        // The new reason, from this attempt, not the earlier run's.
        var stillFailing = Assert.Single(retry.Failures, f => f.Reason.StartsWith("refused by the target", StringComparison.Ordinal));
        Assert.Contains("maximum size", stillFailing.Reason);
        Assert.DoesNotContain("earlier run", stillFailing.Reason);
        var gone = Assert.Single(retry.Failures, f => f.Reason.StartsWith("no longer on the source", StringComparison.Ordinal));
        Assert.Equal("big-goes@mailsync.test", gone.MessageId);
        var lists = Assert.Single(retry.Folders, f => f.SourceFolder == "Lists");
        Assert.True(lists.NothingToRetry);
        Assert.Equal(0, lists.SourceMessages);

        var failedRows = Rows(job.StatePath).Where(r => r.State == "failed").OrderBy(r => r.Attempts).ToList();
        Assert.Equal([1, 2], failedRows.Select(r => r.Attempts));
        Assert.Equal(gone.SourceUid, failedRows[0].Uid);
        Assert.Equal(Hashes(small), Hashes((await Mailbox.ReadAllAsync(targetServer, target))["INBOX"]));

        // The next normal run still sees the new messages.
        var normal = await job.RunAsync();
        Assert.Equal(2, normal.Appended);
        Assert.Equal(Hashes(small.Concat(later)), Hashes((await Mailbox.ReadAllAsync(targetServer, target))["INBOX"]));
    }

    [Fact]
    public async Task POP3_retry_failed_appends_the_earlier_failures_by_UIDL_and_deletes_only_those_when_the_job_deletes()
    {
        await using var targetServer = await DovecotServer.StartAsync(Limited);
        var source = await Server.CreateUserAsync("retry-pop");
        var target = await targetServer.CreateUserAsync("retry-pop-dst");
        var small = Synthetic.Messages(8, seed: 81).ToList();
        List<SeedMessage> big = [Big("pop-0"), Big("pop-1"), Big("pop-gone")];
        await Server.SeedAsync(source, "INBOX", small.Concat(big));
        using var job = JobFile.CreatePop3(Server, source, targetServer, target, ", \"deleteFromSource\": true");

        var first = await job.RunAsync();
        Assert.Equal(JobStatus.CompletedWithFailures, first.Status);
        Assert.Equal(3, first.Failures.Count);
        Assert.Equal(8, first.Folders[0].DeletedFromSource);
        var refused = Rows(job.StatePath).Where(r => r.State == "failed").ToList();
        Assert.Equal(3, refused.Count);
        Assert.All(refused, r => Assert.Contains("maximum size", r.LastError));

        await ExpungeAsync(source, "INBOX", "<big-pop-gone@mailsync.test>");
        var later = Synthetic.Messages(4, seed: 82).Append(Big("pop-later")).ToList();
        await Server.SeedAsync(source, "INBOX", later);
        await targetServer.RestartAsync(new DovecotOptions());

        var retry = await job.RunAsync(new MigrationOptions { RetryFailed = true });
        Assert.Equal(new RetryCounts(2, 2, 0, 1), retry.Retry);
        Assert.Equal(2, retry.Appended);
        // The one gone from the server cannot be retried: named, its row kept, so the exit code stays 3.
        var gone = Assert.Single(retry.Failures);
        Assert.StartsWith("no longer on the source", gone.Reason);
        Assert.Equal(ExitCodes.MessagesFailed, ExitCodes.From([retry]));
        Assert.Equal(2, retry.Folders[0].DeletedFromSource);
        var rows = Rows(job.StatePath);
        Assert.Equal(("failed", 1), rows.Where(r => r.Key == gone.SourceKey).Select(r => (r.State, r.Attempts)).Single());
        Assert.Equal(2, rows.Count(r => r.State == "copied" && r.Attempts == 2));
        // Only the new messages are left on the server; the target has the old ones, retried ones included.
        Assert.Equal(Hashes(later.Select(m => m.Raw)), Corpus.NormalizedHashes((await Pop3Box.ReadAllAsync(Server, source)).Select(m => m.Bytes)));
        Assert.Equal(Hashes(small.Concat(big.Take(2))), Hashes((await Mailbox.ReadAllAsync(targetServer, target))["INBOX"]));

        var normal = await job.RunAsync();
        Assert.Equal((later.Count, later.Count), (normal.Appended, normal.Folders[0].DeletedFromSource));
        Assert.Empty(await Pop3Box.ReadAllAsync(Server, source));
        Assert.Equal(Hashes(small.Concat(big.Take(2)).Concat(later)), Hashes((await Mailbox.ReadAllAsync(targetServer, target))["INBOX"]));
    }

    /// <summary>About 90 KB: over the limited target's 64 KiB, with a Message-ID to find it by.</summary>
    private static SeedMessage Big(string name) => new(
        Encoding.ASCII.GetBytes($"From: a@example.com\r\nSubject: big {name}\r\nMessage-ID: <big-{name}@mailsync.test>\r\n\r\n"
            + string.Concat(Enumerable.Repeat(new string('x', 998) + "\r\n", 90))),
        new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero), MessageFlags.Seen, []);

    private static List<string> Hashes(IEnumerable<SeedMessage> messages) => Hashes(messages.Select(m => m.Raw));

    private static List<string> Hashes(IEnumerable<byte[]> messages) => Corpus.NormalizedHashes(messages);

    private static List<string> Hashes(Mailbox.Folder folder) => Corpus.NormalizedHashes(folder.Messages.Select(m => m.Bytes));

    /// <summary>Deletes the source message with this Message-ID, as a user tidying the old mailbox would.</summary>
    private async Task ExpungeAsync(TestUser user, string folder, string messageId)
    {
        using var client = await Server.ConnectAsync(user);
        var mailbox = await client.GetFolderAsync(folder);
        await mailbox.OpenAsync(FolderAccess.ReadWrite);
        var uids = await mailbox.SearchAsync(SearchQuery.HeaderContains("Message-ID", messageId));
        Assert.Single(uids);
        await mailbox.AddFlagsAsync(uids, MessageFlags.Deleted, silent: true);
        await mailbox.ExpungeAsync(uids);
        await client.DisconnectAsync(true);
    }

    private sealed record LedgerRow(string Folder, uint Uid, string? Key, string State, int Attempts, string? LastError);

    /// <summary>
    /// Every message row of the ledger, read with SQL as an operator would: migrate's rows, and
    /// those a migrate job keeps in the side-indexed tables when it runs on the two-way engine
    /// (side A is the source; paired reads as copied).
    /// </summary>
    private static List<LedgerRow> Rows(string ledger)
    {
        using var connection = new SqliteConnection($"Data Source={ledger};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = """
            SELECT p.source_folder, m.source_uid, m.source_key, m.state, m.attempts, m.last_error
            FROM messages m JOIN folder_pairs p ON p.id = m.pair_id
            UNION ALL
            SELECT p.name_a, m.uid_a, NULL, CASE m.state WHEN 'paired' THEN 'copied' ELSE m.state END, m.attempts, m.last_error
            FROM sync_messages m JOIN sync_pairs p ON p.id = m.pair_id WHERE m.uid_a IS NOT NULL
            ORDER BY 1, 2;
            """;
        using var r = cmd.ExecuteReader();
        var rows = new List<LedgerRow>();
        while (r.Read())
        {
            rows.Add(new LedgerRow(r.GetString(0), (uint)r.GetInt64(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), r.GetInt32(4),
                r.IsDBNull(5) ? null : r.GetString(5)));
        }

        return rows;
    }
}
