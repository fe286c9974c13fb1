using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// POP3 servers that are busy, refuse, lack UIDL or drop the connection, played by the test
/// proxy in front of the real Dovecot (and one Dovecot that allows a single session per user).
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class Pop3ResilienceTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Without_UIDL_messages_are_known_by_fingerprint_duplicates_included_and_a_rerun_appends_nothing()
    {
        var (source, target) = await UsersAsync("nouidl");
        var messages = Synthetic.Messages(200, seed: 31).ToList();   // two byte-identical pairs among them
        await Server.SeedAsync(source, "INBOX", messages);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.HideUidl = true;
        using var job = ViaProxy(proxy, source, target);

        var result = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(200, result.Appended);
        Assert.Equal("fingerprint", result.Folders[0].SourceIdentity);
        Assert.Contains(result.Warnings, w => w.Contains("no UIDL", StringComparison.Ordinal));
        Assert.Equal(Corpus.NormalizedHashes(messages.Select(m => m.Raw)), Corpus.NormalizedHashes((await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Select(m => m.Bytes)));

        var again = await job.RunAsync();
        Assert.Equal((JobStatus.Succeeded, 0, 200), (again.Status, again.Appended, again.Folders[0].AlreadyCopied));
    }

    [Theory]
    [InlineData("-ERR [SYS/TEMP] Backend temporarily unavailable", 2)]
    [InlineData("-ERR [LOGIN-DELAY] Minimum time between logins not reached", 1)]
    [InlineData("-ERR [IN-USE] Mailbox is locked by another session", 2)]
    public async Task A_server_saying_later_is_retried_and_the_run_completes(string answer, int refusals)
    {
        var (source, target) = await UsersAsync("busy");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(10, seed: 32));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.RefuseNextLogins(refusals, answer);
        using var job = ViaProxy(proxy, source, target, "\"retryAttempts\": 3, \"retryDelaySeconds\": 1");

        var result = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(10, result.Appended);
        Assert.Equal((refusals, refusals + 1), (proxy.RefusedLogins, proxy.ConnectionCount));
    }

    [Fact]
    public async Task When_retries_run_out_the_cli_exits_6_and_says_to_run_again_later()
    {
        var (source, target) = await UsersAsync("stillbusy");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(3, seed: 33));
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.RefuseNextLogins(100, "-ERR [IN-USE] Mailbox is locked by another session");
        using var job = ViaProxy(proxy, source, target, "\"retryAttempts\": 1, \"retryDelaySeconds\": 1");

        var (code, output) = await CliProcess.RunAsync("run", job.Path, "--state", job.StatePath);
        Assert.Equal(ExitCodes.TemporaryFailure, code);
        Assert.Contains("[IN-USE]", output);
        Assert.Contains("run again later", output);
        Assert.Equal(2, proxy.RefusedLogins);
        Assert.Equal(3, (await Pop3Box.ReadAllAsync(Server, source)).Count);
    }

    [Theory]
    [InlineData("-ERR [SYS/PERM] Your account has been disabled", "SYS/PERM")]
    [InlineData("-ERR [AUTH] Invalid credentials", "AUTH")]
    public async Task A_permanent_refusal_stops_the_account_at_once_with_the_servers_words(string answer, string code)
    {
        var (source, target) = await UsersAsync("refused");
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.RefuseNextLogins(5, answer);
        using var job = ViaProxy(proxy, source, target, "\"retryAttempts\": 3, \"retryDelaySeconds\": 1");

        var result = await job.RunAsync();
        Assert.Equal(JobStatus.AccountFailed, result.Status);
        Assert.Contains($"[{code}]", result.Error);
        Assert.Contains(answer[(answer.IndexOf(']') + 2)..], result.Error);
        Assert.Equal(1, proxy.RefusedLogins);
    }

    [Fact]
    public async Task A_connection_cut_mid_download_is_recovered_in_a_new_session_that_deletes_only_confirmed_copies()
    {
        var (source, target) = await UsersAsync("cut");
        var messages = Synthetic.Messages(150, seed: 34).ToList();
        await Server.SeedAsync(source, "INBOX", messages);
        await using var proxy = Pop3Proxy.Start(Server.Host, Server.Pop3Port);
        proxy.CutAfterRetr(70);
        using var job = ViaProxy(proxy, source, target, jobExtras: ", \"deleteFromSource\": true");

        var run = await job.RunAsync();

        Assert.Equal(JobStatus.Succeeded, run.Status);
        Assert.Equal(150, run.Appended);
        // The cut session died before QUIT, so the server deleted nothing: the new session found all 150.
        Assert.True(proxy.ConnectionCount >= 2, $"expected a second session, saw {proxy.ConnectionCount}");
        Assert.Equal(150, run.Folders[0].SourceMessages);
        Assert.Contains(run.Recoveries, r => r.Contains("recovered after", StringComparison.Ordinal));
        Assert.Equal(150, run.Folders[0].DeletedFromSource);
        Assert.Equal(Corpus.NormalizedHashes(messages.Select(m => m.Raw)), Corpus.NormalizedHashes((await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Select(m => m.Bytes)));
        Assert.Empty((await Mailbox.ReadAllAsync(Server, source))["INBOX"].Messages);

        var again = await job.RunAsync();
        Assert.Equal(JobStatus.Succeeded, again.Status);
        Assert.Equal(0, again.Appended);
    }

    [Fact]
    public async Task A_real_in_use_answer_from_Dovecot_is_waited_out()
    {
        // A Dovecot allowing one POP3 session per user answers a second login "-ERR [IN-USE]" at once.
        await using var server = await DovecotServer.StartAsync(new DovecotOptions { MaxUserConnections = 1 });
        var source = await server.CreateUserAsync("inuse");
        var target = await server.CreateUserAsync("inuse-dst");
        await server.SeedAsync(source, "INBOX", Synthetic.Messages(5, seed: 35));
        using var job = JobFile.CreatePop3(server, source, server, target,
            popAccount: $"\"port\": {server.Pop3Port}, \"security\": \"none\", \"retryAttempts\": 5, \"retryDelaySeconds\": 1");

        var log = new CapturedLog();
        var config = job.Load();
        var holder = await server.Pop3ConnectAsync(source);
        var run = new JobRunner(log.Logger, NullMigrationObserver.Instance).RunAsync(config, config.Jobs, job.StatePath, new MigrationOptions(), CancellationToken.None);
        await Task.Delay(1500);
        Assert.False(run.IsCompleted, "the run must wait while the maildrop is in use");
        await holder.DisconnectAsync(true);
        holder.Dispose();

        var result = Assert.Single(await run);
        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(5, result.Appended);
        Assert.Contains(log.Messages, m => m.Contains("try again later [IN-USE]", StringComparison.Ordinal) && m.Contains("attempt 2", StringComparison.Ordinal));
    }

    private async Task<(TestUser Source, TestUser Target)> UsersAsync(string name)
        => (await Server.CreateUserAsync(name), await Server.CreateUserAsync(name + "-dst"));

    private JobFile ViaProxy(Pop3Proxy proxy, TestUser source, TestUser target, string? accountExtras = null, string jobExtras = "")
    {
        var extras = accountExtras is null ? string.Empty : ", " + accountExtras;
        return JobFile.CreatePop3(Server, source, Server, target, jobExtras, $"\"port\": {proxy.Port}, \"security\": \"none\"{extras}");
    }
}
