using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// MailSync sets up TLS itself, under MailKit (Stores/Imap/ImapTransport), so STARTTLS is its own
/// code: these cases check it against a real Dovecot, directly and through the fault proxy.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class ImapTransportTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task STARTTLS_then_login_copies_over_the_encrypted_connection()
    {
        var source = await Server.CreateUserAsync("starttls-src");
        var target = await Server.CreateUserAsync("starttls-dst");
        await Server.SeedAsync(source, "INBOX", Synthetic.Messages(5, seed: 31));
        using var job = JobFile.Write(source, target, Job(Server.ImapPort, source, target));

        var result = await job.RunAsync();

        Assert.True(result.Error is null, result.Error);
        Assert.Equal(5, result.Appended);
    }

    [Fact]
    public async Task A_server_that_offers_STARTTLS_but_refuses_it_is_an_encryption_failure_and_gets_no_password()
    {
        var source = await Server.CreateUserAsync("starttls-no-src");
        var target = await Server.CreateUserAsync("starttls-no-dst");
        await using var proxy = ImapFaultProxy.Start(Server.Host, Server.ImapPort);
        var refused = proxy.Answer("STARTTLS", "NO TLS is off today");
        using var job = JobFile.Write(source, target, Job(proxy.Port, source, target));

        var result = await job.RunAsync();

        Assert.True(refused.IsCompletedSuccessfully, "the STARTTLS was never answered by the proxy");
        Assert.Equal(JobStatus.EncryptionUnavailable, result.Status);
        Assert.Contains("offers STARTTLS but refused it", result.Error, StringComparison.Ordinal);
        Assert.Contains("TLS is off today", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(source.Password, result.Error, StringComparison.Ordinal);
    }

    /// <summary>The source over STARTTLS on <paramref name="port"/> (pinned to the test certificate), the target plain.</summary>
    private string Job(int port, TestUser source, TestUser target) => $$"""
        {
          "accounts": {
            "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{port}}, "security": "starttls", "certificateFingerprint": "{{Server.CertificateSha256}}", "user": "{{source.Name}}", "password": "file:src.secret", "retryAttempts": 0 },
            "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{Server.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
          },
          "jobs": [ { "name": "t", "mode": "migrate", "source": "src", "target": "dst" } ]
        }
        """;
}
