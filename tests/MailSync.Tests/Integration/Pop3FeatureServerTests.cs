using System.Text;
using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>POP3 jobs against the feature Dovecot: APOP, XOAUTH2, and a target that refuses messages over 64 KiB.</summary>
[Collection(FeatureDovecotCollection.Name)]
public sealed class Pop3FeatureServerTests(FeatureDovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task APOP_is_used_when_the_account_asks_for_it()
    {
        var (source, target) = await UsersAsync("apop");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(4, seed: 41));
        using var job = Pop3Job(source, target, "\"authMechanism\": \"APOP\"");
        var result = await job.RunAsync();
        Assert.Equal((JobStatus.Succeeded, 4), (result.Status, result.Appended));
    }

    [Fact]
    public async Task XOAUTH2_logs_in_with_the_configured_token_and_a_refused_token_stops_the_account()
    {
        var (source, target) = await UsersAsync("xoauth");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(4, seed: 42));
        var token = Server.IssueOAuth2Token(source);
        using var job = Pop3Job(source, target, "\"oauth2Token\": \"file:token.secret\"", passwordMember: false);
        await File.WriteAllTextAsync(Path.Combine(job.Directory, "token.secret"), token);

        var result = await job.RunAsync();
        Assert.Equal((JobStatus.Succeeded, 4), (result.Status, result.Appended));

        Server.RevokeOAuth2Token(token);
        var refused = await job.RunAsync();
        Assert.Equal(JobStatus.AccountFailed, refused.Status);
        Assert.Contains("XOAUTH2 token", refused.Error);
        Assert.DoesNotContain(token, refused.Error);
    }

    [Fact]
    public async Task Messages_the_target_refuses_are_named_and_stay_on_the_server_while_the_rest_are_deleted()
    {
        // The source lives on a plain server, since this one refuses big messages at the door.
        await using var plain = await DovecotServer.StartAsync();
        var source = await plain.CreateUserAsync("toobig");
        var target = await Server.CreateUserAsync("toobig-dst");
        var small = Synthetic.Messages(8, seed: 43).ToList();
        var big = Enumerable.Range(0, 2).Select(i => new SeedMessage(
            Encoding.ASCII.GetBytes($"Subject: big {i}\r\nMessage-ID: <big-{i}@mailsync.test>\r\n\r\n" + new string('x', 90_000) + "\r\n"),
            DateTimeOffset.UtcNow.AddDays(-3), 0, [])).ToList();
        await plain.SeedAsync(source, "INBOX", small.Concat(big));
        using var job = JobFile.CreatePop3(plain, source, Server, target, ", \"deleteFromSource\": true");

        var result = await job.RunAsync();
        Assert.Equal(JobStatus.CompletedWithFailures, result.Status);
        Assert.Equal(2, result.Failures.Count);
        Assert.All(result.Failures, f => Assert.Contains("refused by the target", f.Reason));
        Assert.All(result.Failures, f => Assert.Contains("maximum size", f.Reason));
        Assert.Equal(8, result.Folders[0].DeletedFromSource);

        var left = await Pop3Box.ReadAllAsync(plain, source);
        Assert.Equal(result.Failures.Select(f => f.SourceKey!).Order(), left.Select(m => m.Uidl).Order());
        Assert.Equal(Corpus.NormalizedHashes(big.Select(m => m.Raw)), Corpus.NormalizedHashes(left.Select(m => m.Bytes)));
        Assert.Equal(Corpus.NormalizedHashes(small.Select(m => m.Raw)), Corpus.NormalizedHashes((await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages.Select(m => m.Bytes)));
    }

    private async Task<(TestUser Source, TestUser Target)> UsersAsync(string name)
        => (await Server.CreateUserAsync(name), await Server.CreateUserAsync(name + "-dst"));

    /// <summary>A POP3 job on this server; only one POP3 session per user at a time here (pop3_lock_session).</summary>
    private JobFile Pop3Job(TestUser source, TestUser target, string? accountExtras = null, string jobExtras = "", bool passwordMember = true)
    {
        var extras = accountExtras is null ? string.Empty : ", " + accountExtras;
        var job = JobFile.CreatePop3(Server, source, Server, target, jobExtras, $"\"port\": {Server.Pop3Port}, \"security\": \"none\"{extras}");
        if (!passwordMember)
            File.WriteAllText(job.Path, File.ReadAllText(job.Path).Replace("\"password\": \"file:src.secret\", ", string.Empty, StringComparison.Ordinal));
        return job;
    }
}
