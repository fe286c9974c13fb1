using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.EndToEnd;

/// <summary>
/// Issue 4, point 6: a malformed job file, an unknown host, an untrusted certificate, a server
/// without STARTTLS and a corrupt ledger each end the run with their own exit code and one error
/// line that says what to change, and leave the target exactly as it was. The wrong password
/// (exit 4) is <see cref="CliTests.A_wrong_password_stops_with_exit_code_4_and_never_prints_the_secret"/>.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class BadInputTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Theory]
    [InlineData("syntax", "invalid JSON at line")]
    [InlineData("typo", "unknown property \"hots\"; did you mean \"host\"?")]
    public async Task A_malformed_job_file_is_exit_2_with_one_line_per_problem_and_touches_nothing(string kind, string problem)
    {
        var (source, target, before) = await UsersAsync();
        var account = kind == "typo"
            ? $$"""{ "protocol": "imap", "hots": "127.0.0.1", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret" }"""
            : $$"""{ "protocol": "imap", "host": "127.0.0.1" "port": {{Server.ImapPort}} }""";
        using var job = Job(source, target, account);

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.ConfigError, code);
        Assert.Contains("1 problem(s)", output);
        Assert.Contains(problem, ErrorLine(output, problem));
        await AssertUntouchedAsync(target, before, source, output);
        Assert.False(File.Exists(job.StatePath), "a rejected job file must not create a ledger");
    }

    [Theory]
    [InlineData("imap", 993)]
    [InlineData("pop3", 995)]
    public async Task A_host_name_that_does_not_resolve_is_exit_7_fast_and_names_the_host(string protocol, int port)
    {
        var (source, target, before) = await UsersAsync();
        using var job = Job(source, target,
            $$"""{ "protocol": "{{protocol}}", "host": "no-such-host.invalid", "port": {{port}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret" }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.ServerUnreachable, code);
        var line = ErrorLine(output, "does not resolve");
        Assert.Contains($"{source.Name}@no-such-host.invalid:{port}", line);
        Assert.Contains("the host name \"no-such-host.invalid\"", line);
        Assert.Contains("check \"host\"", line);
        var report = Report(job);
        Assert.Equal("ServerUnreachable", report.Status);
        // No internet here: the resolver must answer "no such name" at once, not after a timeout.
        Assert.True(report.Seconds < 5, $"resolving took {report.Seconds} s");
        await AssertUntouchedAsync(target, before, source, output);
        AssertLedgerRecordsNothing(job);
    }

    [Fact]
    public async Task A_port_where_nothing_listens_is_exit_7_after_the_accounts_retries()
    {
        var (source, target, before) = await UsersAsync();
        var port = FreePort();
        // A refused connection may be a server restarting, so it is retried; when the retries are
        // spent it is reported as unreachable, not as "try later".
        using var job = Job(source, target,
            $$"""{ "protocol": "imap", "host": "127.0.0.1", "port": {{port}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret", "retryAttempts": 1, "retryDelaySeconds": 1 }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.ServerUnreachable, code);
        var line = ErrorLine(output, "refused the connection");
        Assert.Contains($"{source.Name}@127.0.0.1:{port}", line);
        Assert.Contains("check \"port\"", line);
        await AssertUntouchedAsync(target, before, source, output);
        AssertLedgerRecordsNothing(job);
    }

    [Theory]
    [InlineData("imap")]
    [InlineData("pop3")]
    public async Task An_untrusted_certificate_is_exit_8_and_shows_the_fingerprint_to_pin(string protocol)
    {
        var (source, target, before) = await UsersAsync();
        var port = protocol == "imap" ? Server.ImapsPort : Server.Pop3sPort;
        using var job = Job(source, target,
            $$"""{ "protocol": "{{protocol}}", "host": "127.0.0.1", "port": {{port}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret" }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.CertificateRejected, code);
        var line = ErrorLine(output, "TLS certificate is not trusted");
        Assert.Contains($"{source.Name}@127.0.0.1:{port}", line);
        Assert.Contains("self-signed", line);
        Assert.Contains($"\"certificateFingerprint\": \"{Server.CertificateSha256}\"", line);
        Assert.Contains("\"trustAnyCertificate\": true", line);
        Assert.Equal("CertificateRejected", Report(job).Status);
        await AssertUntouchedAsync(target, before, source, output);
        AssertLedgerRecordsNothing(job);
    }

    [Theory]
    [InlineData("imap")]
    [InlineData("pop3")]
    public async Task The_fingerprint_from_the_error_line_pins_the_certificate_and_the_job_then_runs(string protocol)
    {
        var (source, target, _) = await UsersAsync();
        var port = protocol == "imap" ? Server.ImapsPort : Server.Pop3sPort;
        var account = $$"""{ "protocol": "{{protocol}}", "host": "127.0.0.1", "port": {{port}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret"%PIN% }""";
        using var refused = Job(source, target, account.Replace("%PIN%", string.Empty, StringComparison.Ordinal));
        var (_, output) = await RunAsync(refused);
        var line = ErrorLine(output, "TLS certificate is not trusted");
        var pin = line[(line.IndexOf("\"certificateFingerprint\": \"", StringComparison.Ordinal) + 27)..][..64];

        using var pinned = Job(source, target, account.Replace("%PIN%", $", \"certificateFingerprint\": \"{pin}\"", StringComparison.Ordinal));
        var (code, pinnedOutput) = await RunAsync(pinned);

        Assert.True(code == ExitCodes.Success, pinnedOutput);
        Assert.Equal(3, (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Count);
    }

    [Fact]
    public async Task A_certificate_that_is_not_the_pinned_one_is_exit_8()
    {
        var (source, target, before) = await UsersAsync();
        var otherPin = new string('A', 64);
        using var job = Job(source, target,
            $$"""{ "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapsPort}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret", "certificateFingerprint": "{{otherPin}}" }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.CertificateRejected, code);
        var line = ErrorLine(output, "does not match the pinned certificateFingerprint");
        Assert.Contains(Server.CertificateSha256, line);
        await AssertUntouchedAsync(target, before, source, output);
    }

    [Theory]
    [InlineData("imap", "STARTTLS")]
    [InlineData("pop3", "STLS")]
    public async Task A_server_without_STARTTLS_is_exit_9_and_never_sees_the_password(string protocol, string command)
    {
        await using var plain = await DovecotServer.StartAsync(new DovecotOptions { DisableTls = true });
        var source = await plain.CreateUserAsync("notls-src");
        await plain.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 11));
        var target = await Server.CreateUserAsync("notls-dst");
        await Server.SeedAsync(target, "Kept", Synthetic.Messages(2, seed: 12));
        var before = await SnapshotAsync(target);
        // Seeding logged the source in; only what the server logs from here on is the run's.
        var logStart = new FileInfo(plain.LogPath).Length;
        var port = protocol == "imap" ? plain.ImapPort : plain.Pop3Port;
        using var job = Job(source, target,
            $$"""{ "protocol": "{{protocol}}", "host": "127.0.0.1", "port": {{port}}, "security": "starttls", "user": "{{source.Name}}", "password": "file:src.secret" }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.EncryptionUnavailable, code);
        var line = ErrorLine(output, $"does not offer {command}");
        Assert.Contains($"{source.Name}@127.0.0.1:{port}", line);
        Assert.Contains("the password was not sent in clear", line);
        Assert.Equal("EncryptionUnavailable", Report(job).Status);
        await AssertUntouchedAsync(target, before, source, output);
        AssertLedgerRecordsNothing(job);

        // The server's own account of the session: a client that left without trying to log in.
        var log = await WaitForLogAsync(plain, logStart, "no auth attempts");
        Assert.DoesNotContain(source.Name, log);
        Assert.DoesNotContain(source.Password, log);
    }

    [Fact]
    public async Task Ssl_on_a_port_that_speaks_no_TLS_is_exit_9()
    {
        var (source, target, before) = await UsersAsync();
        using var job = Job(source, target,
            $$"""{ "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "ssl", "user": "{{source.Name}}", "password": "file:src.secret" }""");

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.EncryptionUnavailable, code);
        var line = ErrorLine(output, "no TLS connection could be made");
        Assert.Contains("usually 993", line);
        await AssertUntouchedAsync(target, before, source, output);
    }

    [Fact]
    public async Task A_corrupt_ledger_is_exit_5_with_one_line_and_touches_neither_ledger_nor_target()
    {
        var (source, target, before) = await UsersAsync();
        using var job = Job(source, target,
            $$"""{ "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret" }""");
        var damaged = new byte[8192];
        new Random(6).NextBytes(damaged);
        await File.WriteAllBytesAsync(job.StatePath, damaged);

        var (code, output) = await RunAsync(job);

        Assert.Equal(ExitCodes.LedgerError, code);
        var line = ErrorLine(output, "cannot be read");
        Assert.Contains(job.StatePath, line);
        Assert.Contains("move it away to start over", line);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(job.StatePath));
        await AssertUntouchedAsync(target, before, source, output);
    }

    /// <summary>A source with mail (so a run that went on would copy some) and a target with one folder of its own.</summary>
    private async Task<(TestUser Source, TestUser Target, string TargetBefore)> UsersAsync()
    {
        var source = await Server.CreateUserAsync("bad-src");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 21));
        await Server.SeedAsync(source, "Archive", Synthetic.Messages(2, seed: 22));
        var target = await Server.CreateUserAsync("bad-dst");
        await Server.SeedAsync(target, "Kept", Synthetic.Messages(2, seed: 23));
        return (source, target, await SnapshotAsync(target));
    }

    /// <summary>A job "j" from the source account given as JSON into <paramref name="target"/> on the fixture server.</summary>
    private JobFile Job(TestUser source, TestUser target, string sourceAccount) => JobFile.Write(source, target, $$"""
        {
          "accounts": {
            "src": {{sourceAccount}},
            "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
          },
          "jobs": [ { "name": "j", "mode": "migrate", "source": "src", "target": "dst" } ]
        }
        """);

    private static Task<(int Code, string Output)> RunAsync(JobFile job) =>
        CliProcess.RunAsync("run", job.Path, "--state", job.StatePath, "--report", Path.Combine(job.Directory, "report.json"));

    /// <summary>
    /// The one summary line (indented) that states the cause. The log's copy of it on stderr starts
    /// with a timestamp and is not counted; a second indented line would be a repeated or split error.
    /// </summary>
    private static string ErrorLine(string output, string cause)
    {
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Contains(cause, StringComparison.Ordinal)).ToList();
        return Assert.Single(lines);
    }

    /// <summary>Folder by folder, subscription and UIDs: any folder created or message added changes it.</summary>
    private async Task<string> SnapshotAsync(TestUser user)
    {
        var folders = await Mailbox.ReadAllAsync(Server, user);
        return string.Join("\n", folders.Values.OrderBy(f => f.Path, StringComparer.Ordinal)
            .Select(f => $"{f.Path} subscribed={f.Subscribed} uids={string.Join(',', f.Messages.Select(m => m.Uid))}"));
    }

    private async Task AssertUntouchedAsync(TestUser target, string before, TestUser source, string output)
    {
        Assert.Equal(before, await SnapshotAsync(target));
        Assert.DoesNotContain(source.Password, output);
        Assert.DoesNotContain(target.Password, output);
        // One line, not a stack trace or MailKit's multi-line explanation.
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("Exception", output);
    }

    private static void AssertLedgerRecordsNothing(JobFile job)
    {
        if (!File.Exists(job.StatePath))
            return;
        using var connection = new SqliteConnection($"Data Source={job.StatePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT count(*) FROM folder_pairs) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM sync_pairs) + (SELECT count(*) FROM sync_messages);";
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    }

    private static (string Status, double Seconds) Report(JobFile job)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(job.Directory, "report.json")));
        var result = doc.RootElement.GetProperty("jobs")[0];
        return (result.GetProperty("status").GetString()!, result.GetProperty("durationSeconds").GetDouble());
    }

    /// <summary>The server's log from <paramref name="start"/> on, once it mentions <paramref name="text"/>.</summary>
    private static async Task<string> WaitForLogAsync(DovecotServer server, long start, string text)
    {
        // The login process writes its line when it notices the client has gone, a moment later.
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string log;
            using (var stream = new FileStream(server.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                stream.Seek(start, SeekOrigin.Begin);
                using var reader = new StreamReader(stream);
                log = await reader.ReadToEndAsync();
            }

            if (log.Contains(text, StringComparison.Ordinal) || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                Assert.True(log.Contains(text, StringComparison.Ordinal), $"no \"{text}\" in the server log:\n{log}");
                return log;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>A loopback port nobody listens on (bound and released, so it was free a moment ago).</summary>
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
