using System.Text.Json;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.EndToEnd;

/// <summary>The mailsync command as a user runs it: exit codes, error messages, the report.</summary>
[Collection(DovecotCollection.Name)]
public sealed class CliTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Help_lists_the_run_verb_and_the_exit_codes()
    {
        var (code, stdout) = await CliProcess.RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("run", stdout);
        Assert.Contains("130 interrupted", stdout);
        Assert.Contains("7 server unreachable", stdout);
        Assert.Contains("8 TLS certificate not trusted", stdout);
        Assert.Contains("9 encryption configured but not offered", stdout);
        Assert.Contains("10 a sync job held deletions back", stdout);
        Assert.Contains("11 a server broke the protocol or a limit", stdout);
    }

    [Fact]
    public async Task Run_help_explains_sync_and_allow_deletions()
    {
        var (code, stdout) = await CliProcess.RunAsync("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--allow-deletions", stdout);
        Assert.Contains("\"sync\" keeps the two accounts in step both ways", stdout);
    }

    [Fact]
    public async Task A_malformed_job_file_reports_every_problem_at_once_with_exit_code_2()
    {
        var dir = Directory.CreateTempSubdirectory("mailsync-cli-").FullName;
        var path = Path.Combine(dir, "bad.json");
        File.WriteAllText(path, """
            { "accounts": { "a": { "protocol": "imap", "host": "mail.example.com", "port": 99999, "security": "none", "user": "u", "password": "hunter2" } },
              "jobs": [ { "name": "j", "mode": "migrate", "source": "a", "target": "b" } ] }
            """);
        var (code, stdout) = await CliProcess.RunAsync("run", path);
        Assert.Equal(ExitCodes.ConfigError, code);
        Assert.Contains("accounts.a.port", stdout);
        Assert.Contains("accounts.a.password", stdout);
        Assert.Contains("jobs[0].target", stdout);
        Assert.DoesNotContain("hunter2", stdout);
        Assert.False(File.Exists(Path.Combine(dir, "bad.state.db")), "a rejected job file must not create a ledger");
    }

    [Fact]
    public async Task A_wrong_password_stops_with_exit_code_4_and_never_prints_the_secret()
    {
        var source = await Server.CreateUserAsync("cli-src");
        var target = await Server.CreateUserAsync("cli-dst");
        using var job = JobFile.Create(Server, source, Server, target with { Password = "wrong-secret-123" });
        var (code, stdout) = await CliProcess.RunAsync("run", job.Path);
        Assert.Equal(ExitCodes.AccountError, code);
        Assert.Contains("authentication failed", stdout, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("wrong-secret-123", stdout);
        Assert.DoesNotContain(source.Password, stdout);
        foreach (var log in Directory.EnumerateFiles(Path.Combine(job.Directory, "logs")))
            Assert.DoesNotContain("wrong-secret-123", await File.ReadAllTextAsync(log));
    }

    [Fact]
    public async Task A_damaged_ledger_stops_with_exit_code_5_and_is_left_as_it_was()
    {
        var source = await Server.CreateUserAsync("cli-src");
        var target = await Server.CreateUserAsync("cli-dst");
        using var job = JobFile.Create(Server, source, Server, target);
        var damaged = new byte[8192];
        new Random(1).NextBytes(damaged);
        File.WriteAllBytes(job.StatePath, damaged);
        var (code, stdout) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);
        Assert.Equal(ExitCodes.LedgerError, code);
        Assert.Contains("cannot be read", stdout);
        Assert.Equal(damaged, File.ReadAllBytes(job.StatePath));
    }

    [Fact]
    public async Task A_run_writes_the_json_report_and_a_rerun_appends_nothing()
    {
        var source = await Server.CreateUserAsync("cli-src");
        var target = await Server.CreateUserAsync("cli-dst");
        await Server.SeedAsync(source, "Archive/2024", Synthetic.Messages(25, seed: 3));
        using var job = JobFile.Create(Server, source, Server, target);
        var report = Path.Combine(job.Directory, "report.json");

        var (code, stdout) = await CliProcess.RunAsync("run", job.Path, "--report", report);
        Assert.True(code == 0, stdout);
        Assert.Contains("mailsync summary", stdout);
        using (var doc = JsonDocument.Parse(File.ReadAllText(report)))
        {
            var jobResult = doc.RootElement.GetProperty("jobs")[0];
            Assert.Equal("Succeeded", jobResult.GetProperty("status").GetString());
            Assert.Equal(25, jobResult.GetProperty("appended").GetInt32());
            Assert.Contains(jobResult.GetProperty("folders").EnumerateArray(), f => f.GetProperty("sourceFolder").GetString() == "Archive/2024" && f.GetProperty("copied").GetInt32() == 25);
        }

        (code, stdout) = await CliProcess.RunAsync("run", job.Path, "--report", report);
        Assert.True(code == 0, stdout);
        using (var doc = JsonDocument.Parse(File.ReadAllText(report)))
            Assert.Equal(0, doc.RootElement.GetProperty("jobs")[0].GetProperty("appended").GetInt32());
    }

    [Fact]
    public async Task Dry_run_changes_nothing_on_the_target()
    {
        var source = await Server.CreateUserAsync("cli-src");
        var target = await Server.CreateUserAsync("cli-dst");
        await Server.SeedAsync(source, "Folder", Synthetic.Messages(5, seed: 4));
        using var job = JobFile.Create(Server, source, Server, target);
        var (code, stdout) = await CliProcess.RunAsync("run", job.Path, "--dry-run");
        Assert.True(code == 0, stdout);
        Assert.Contains("dry run", stdout);
        var after = await Mailbox.ReadAllAsync(Server, target);
        Assert.Equal(["INBOX"], after.Keys);
        Assert.Empty(after["INBOX"].Messages);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Implicit_TLS_works_with_a_pinned_certificate_and_an_unverifiable_one_is_refused(bool pinned)
    {
        var source = await Server.CreateUserAsync("tls-src");
        var target = await Server.CreateUserAsync("tls-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 9));
        var dir = Directory.CreateTempSubdirectory("mailsync-tls-").FullName;
        File.WriteAllText(Path.Combine(dir, "s"), source.Password);
        File.WriteAllText(Path.Combine(dir, "t"), target.Password);
        var pin = pinned ? $", \"certificateFingerprint\": \"{Server.CertificateSha256}\"" : string.Empty;
        var path = Path.Combine(dir, "jobs.json");
        File.WriteAllText(path, $$"""
            { "accounts": {
                "s": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapsPort}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:s"{{pin}} },
                "t": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "starttls", "user": "{{target.Name}}", "password": "file:t"{{pin}} } },
              "jobs": [ { "name": "tls", "mode": "migrate", "source": "s", "target": "t" } ] }
            """);
        var (code, stdout) = await CliProcess.RunAsync("run", path);
        if (pinned)
        {
            Assert.True(code == 0, stdout);
            Assert.Equal(3, (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Count);
        }
        else
        {
            // A self-signed certificate with no pin is not trusted: a clear TLS error, nothing written.
            Assert.Equal(ExitCodes.CertificateRejected, code);
            Assert.Contains("TLS certificate is not trusted", stdout);
            Assert.Empty((await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages);
        }
    }
}
