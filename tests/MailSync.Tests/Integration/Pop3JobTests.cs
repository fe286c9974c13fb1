using System.Globalization;
using System.Text;
using System.Text.Json;
using MailKit;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>POP3 jobs against the real Dovecot: deletion rules, logins, dry run, and a POP3 and an IMAP source into one target.</summary>
[Collection(DovecotCollection.Name)]
public sealed class Pop3JobTests(DovecotFixture fixture)
{
    private static readonly JobRunner Runner = new(Serilog.Core.Logger.None, NullMigrationObserver.Instance);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task DeleteFromSource_deletes_exactly_the_messages_whose_copy_was_confirmed()
    {
        // A server without BINARY: the two messages with NUL bytes cannot be appended to it.
        await using var server = await DovecotServer.StartAsync(new DovecotOptions { WithoutBinary = true });
        var source = await server.CreateUserAsync("popdel");
        var target = await server.CreateUserAsync("popdel-dst");
        await server.SeedAsync(source, "INBOX", Synthetic.Messages(40, seed: 3));
        // Two messages the target cannot take (NUL bytes, and no BINARY to carry them) stay on the server.
        await server.DoveadmAsync(Encoding.ASCII.GetBytes("Subject: nul one\r\n\r\nbody\0with NUL\r\n"), "save", "-u", source.Name, "-m", "INBOX");
        await server.DoveadmAsync(Encoding.ASCII.GetBytes("Subject: nul two\r\n\r\nanother\0NUL\r\n"), "save", "-u", source.Name, "-m", "INBOX");
        var before = await Pop3Box.ReadAllAsync(server, source);
        var refused = before.Where(m => m.Bytes.Contains((byte)0)).Select(m => m.Uidl).Order().ToList();
        Assert.Equal(2, refused.Count);

        using var job = JobFile.CreatePop3(server, source, server, target, ", \"deleteFromSource\": true");
        var result = await job.RunAsync();
        Assert.Equal(JobStatus.CompletedWithFailures, result.Status);
        Assert.Equal(refused, result.Failures.Select(f => f.SourceKey!).Order());
        Assert.All(result.Failures, f => Assert.Contains("does not offer BINARY", f.Reason, StringComparison.Ordinal));
        Assert.Equal(40, result.Folders[0].DeletedFromSource);

        // The server keeps exactly the two that never reached the target; the target has the other 40.
        var after = await Pop3Box.ReadAllAsync(server, source);
        Assert.Equal(refused, after.Select(m => m.Uidl).Order());
        var copies = (await Mailbox.ReadAllAsync(server, target))["INBOX"].Messages;
        Assert.Equal(Corpus.NormalizedHashes(before.Where(m => !refused.Contains(m.Uidl)).Select(m => m.Bytes)), Corpus.NormalizedHashes(copies.Select(c => c.Bytes)));

        // A second run copies nothing, deletes nothing more, and still names the two it cannot copy.
        var again = await job.RunAsync();
        Assert.Equal((0, 0), (again.Appended, again.Folders[0].DeletedFromSource));
        Assert.Equal(refused, again.Failures.Select(f => f.SourceKey!).Order());
        Assert.Equal(refused, (await Pop3Box.ReadAllAsync(server, source)).Select(m => m.Uidl).Order());
    }

    [Fact]
    public async Task DeleteOlderThanDays_deletes_only_copies_dated_before_the_cutoff()
    {
        var source = await Server.CreateUserAsync("popage");
        var target = await Server.CreateUserAsync("popage-dst");
        var now = DateTimeOffset.UtcNow;
        var old = Enumerable.Range(0, 6).Select(i => Dated(i, now.AddDays(-400 - i))).ToList();
        var recent = Enumerable.Range(6, 4).Select(i => Dated(i, now.AddDays(-2))).ToList();
        await Server.SeedAsync(source, "INBOX", old.Concat(recent));

        using var job = JobFile.CreatePop3(Server, source, Server, target, ", \"deleteFromSource\": true, \"deleteOlderThanDays\": 30");
        var result = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(10, result.Appended);
        Assert.Equal(6, result.Folders[0].DeletedFromSource);
        Assert.Equal(Corpus.NormalizedHashes(recent.Select(m => m.Raw)), Corpus.NormalizedHashes((await Pop3Box.ReadAllAsync(Server, source)).Select(m => m.Bytes)));
        Assert.Equal(10, (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Count);
    }

    [Fact]
    public async Task Without_deleteFromSource_the_maildrop_is_left_exactly_as_it_was()
    {
        var source = await Server.CreateUserAsync("popkeep");
        var target = await Server.CreateUserAsync("popkeep-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(25, seed: 5));
        var before = await Mailbox.ReadAllAsync(Server, source);

        using var job = JobFile.CreatePop3(Server, source, Server, target);
        Assert.Equal(JobStatus.Succeeded, (await job.RunAsync()).Status);
        // Same messages, same flags (RSET before QUIT: the POP3 session marks nothing as read).
        var after = await Mailbox.ReadAllAsync(Server, source);
        Assert.Equal(before["INBOX"].Messages.Select(m => (m.Uid, m.Flags)), after["INBOX"].Messages.Select(m => (m.Uid, m.Flags)));
    }

    [Fact]
    public async Task A_target_uidvalidity_change_finds_the_copies_again_and_appends_nothing_twice()
    {
        var source = await Server.CreateUserAsync("popvalid");
        var target = await Server.CreateUserAsync("popvalid-dst");
        var messages = Synthetic.Messages(30, seed: 12).ToList();
        await Server.SeedAsync(source, "INBOX", messages.Take(20));
        using var job = JobFile.CreatePop3(Server, source, Server, target);
        Assert.Equal(20, (await job.RunAsync()).Appended);

        await Server.DoveadmAsync(null, "mailbox", "update", "-u", target.Name, "--uid-validity", "4242", "INBOX");
        await Server.SeedAsync(source, "INBOX", messages.Skip(20));
        var again = await job.RunAsync();
        Assert.Equal((JobStatus.Succeeded, 10), (again.Status, again.Appended));
        Assert.Contains(again.Warnings, w => w.Contains("target UIDVALIDITY changed", StringComparison.Ordinal) && w.Contains("found 20 of 20", StringComparison.Ordinal));
        Assert.Equal(Corpus.NormalizedHashes(messages.Select(m => m.Raw)), Corpus.NormalizedHashes((await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Select(m => m.Bytes)));
    }

    [Fact]
    public async Task A_dry_run_counts_and_changes_nothing()
    {
        var source = await Server.CreateUserAsync("popdry");
        var target = await Server.CreateUserAsync("popdry-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(12, seed: 9));
        using var job = JobFile.CreatePop3(Server, source, Server, target, ", \"targetFolder\": \"From POP\", \"deleteFromSource\": true");
        var config = job.Load();
        var result = Assert.Single(await Runner.RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions { DryRun = true }, CancellationToken.None));
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal((0, 12), (result.Appended, result.Folders[0].SourceMessages));
        Assert.Equal(0, result.Folders[0].DeletedFromSource);
        Assert.False((await Mailbox.ReadAllAsync(Server, target)).ContainsKey("From POP"));
        Assert.Equal(12, (await Pop3Box.ReadAllAsync(Server, source)).Count);
    }

    [Theory]
    [InlineData("USER")]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    [InlineData(null)]
    public async Task Each_login_method_works(string? mechanism)
    {
        var source = await Server.CreateUserAsync("poplogin");
        var target = await Server.CreateUserAsync("poplogin-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 1));
        var auth = mechanism is null ? string.Empty : $", \"authMechanism\": \"{mechanism}\"";
        using var job = JobFile.CreatePop3(Server, source, Server, target, popAccount: $"\"port\": {Server.Pop3Port}, \"security\": \"none\"{auth}");
        var result = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(3, result.Appended);
    }

    [Fact]
    public async Task STLS_with_a_pinned_certificate_works_and_an_unverifiable_certificate_is_refused()
    {
        var source = await Server.CreateUserAsync("popstls");
        var target = await Server.CreateUserAsync("popstls-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 2));
        using var pinned = JobFile.CreatePop3(Server, source, Server, target,
            popAccount: $"\"port\": {Server.Pop3Port}, \"security\": \"starttls\", \"certificateFingerprint\": \"{Server.CertificateSha256}\"");
        var result = await pinned.RunAsync();
        Assert.Equal((JobStatus.Succeeded, 3), (result.Status, result.Appended));

        // The test server's certificate is self-signed: without a pin it must not be trusted.
        using var unpinned = JobFile.CreatePop3(Server, source, Server, target, popAccount: $"\"port\": {Server.Pop3Port}, \"security\": \"starttls\"");
        var refused = await unpinned.RunAsync();
        Assert.Equal(JobStatus.CertificateRejected, refused.Status);
        Assert.Contains("TLS certificate is not trusted", refused.Error);
        Assert.Contains(Server.CertificateSha256, refused.Error);
    }

    [Fact]
    public async Task A_wrong_password_stops_the_account_with_the_servers_reason_and_no_secret()
    {
        var source = await Server.CreateUserAsync("popwrong");
        var target = await Server.CreateUserAsync("popwrong-dst");
        using var job = JobFile.CreatePop3(Server, source with { Password = "not-the-password-x7" }, Server, target);
        var result = await job.RunAsync();
        Assert.Equal(JobStatus.AccountFailed, result.Status);
        Assert.Contains("[AUTH]", result.Error);
        Assert.DoesNotContain("not-the-password-x7", result.Error);
    }

    [Fact]
    public async Task A_POP3_source_and_an_IMAP_source_fill_one_target_and_a_rerun_appends_nothing()
    {
        var pop = await Server.CreateUserAsync("combo-pop");
        var imap = await Server.CreateUserAsync("combo-imap");
        var target = await Server.CreateUserAsync("combo-dst");
        var popMessages = Synthetic.Messages(30, seed: 21).ToList();
        var inbox = Synthetic.Messages(20, seed: 22).ToList();
        var projects = Synthetic.Messages(15, seed: 23).ToList();
        await Server.SeedAsync(pop, "INBOX", popMessages);
        await Server.SeedAsync(imap, "INBOX", inbox);
        await Server.SeedAsync(imap, "Projects", projects);

        using var job = JobFile.Write(pop, target, $$"""
            {
              "accounts": {
                "old-pop": { "protocol": "pop3", "host": "127.0.0.1", "port": {{Server.Pop3Port}}, "security": "none", "user": "{{pop.Name}}", "password": "file:src.secret" },
                "old-imap": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{imap.Name}}", "password": "file:imap.secret" },
                "new": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [
                { "name": "from-pop", "mode": "migrate", "source": "old-pop", "target": "new" },
                { "name": "from-imap", "mode": "migrate", "source": "old-imap", "target": "new" }
              ]
            }
            """);
        await File.WriteAllTextAsync(Path.Combine(job.Directory, "imap.secret"), imap.Password);
        var report = Path.Combine(job.Directory, "report.json");

        var (code, output) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report);
        Assert.True(code == ExitCodes.Success, output);
        var dst = await Mailbox.ReadAllAsync(Server, target);
        // Both INBOXes end in the one target INBOX, each message once; the IMAP tree comes along.
        Assert.Equal(Corpus.NormalizedHashes(popMessages.Concat(inbox).Select(m => m.Raw)), Corpus.NormalizedHashes(dst["INBOX"].Messages.Select(m => m.Bytes)));
        Assert.Equal(Corpus.NormalizedHashes(projects.Select(m => m.Raw)), Corpus.NormalizedHashes(dst["Projects"].Messages.Select(m => m.Bytes)));
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
        {
            var jobs = json.RootElement.GetProperty("jobs").EnumerateArray().ToList();
            Assert.Equal(["from-pop", "from-imap"], jobs.Select(j => j.GetProperty("job").GetString()));
            Assert.Equal([30, 35], jobs.Select(j => j.GetProperty("appended").GetInt32()));
            Assert.Equal("UIDL", jobs[0].GetProperty("folders")[0].GetProperty("sourceIdentity").GetString());
        }

        var (again, againOutput) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", report);
        Assert.True(again == ExitCodes.Success, againOutput);
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(report)))
            Assert.All(json.RootElement.GetProperty("jobs").EnumerateArray(), j => Assert.Equal(0, j.GetProperty("appended").GetInt32()));
        Assert.Equal(65, (await Mailbox.ReadAllAsync(Server, target)).Values.Sum(f => f.Messages.Count));
    }



    private static SeedMessage Dated(int i, DateTimeOffset received)
    {
        var raw = Encoding.ASCII.GetBytes(
            $"Received: from mx.example.org by mail.example.com; {received.ToUniversalTime().ToString("ddd, dd MMM yyyy HH:mm:ss", CultureInfo.InvariantCulture)} +0000\r\n" +
            $"From: a@example.com\r\nSubject: dated {i}\r\nMessage-ID: <dated-{i}@mailsync.test>\r\n\r\nbody {i}\r\n");
        return new SeedMessage(raw, received, MessageFlags.None, []);
    }
}
