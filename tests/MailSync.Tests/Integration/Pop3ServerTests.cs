using System.Diagnostics;
using System.Net;
using System.Text;
using MailKit;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Integration;

/// <summary>
/// POP3 login paths and session locking on the feature server (APOP offered,
/// pop3_lock_session = yes), with the server's exact words read from a protocol transcript.
/// </summary>
[Collection(FeatureDovecotCollection.Name)]
public sealed class Pop3ServerTests(FeatureDovecotFixture fixture)
{
    private const string InUse = "-ERR [IN-USE] Mailbox is locked by another POP3 session.";
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Greeting_carries_the_apop_timestamp_and_MailKit_logs_in_with_APOP()
    {
        var user = await Server.CreateUserAsync("apop");
        await Server.SeedAsync(user, "INBOX", [Message("apop")]);
        var transcript = new ProtocolTranscript();
        using var client = await ConnectAsync(transcript);
        var credentials = new CredentialsOnlyFor("APOP", user);

        await client.AuthenticateAsync(credentials);

        // RFC 1939: the timestamp is a msg-id at the end of the greeting.
        Assert.Matches(@"^\+OK Dovecot .*ready\. <[^<>@]+@[^<>]+>$", transcript.ServerLines[0]);
        Assert.True(client.Capabilities.HasFlag(Pop3Capabilities.Apop));
        Assert.Equal(["APOP"], credentials.Asked);
        Assert.Matches($"^APOP {user.Name} [0-9a-f]{{32}}$", Assert.Single(transcript.ClientLines, l => l.StartsWith("APOP ", StringComparison.Ordinal)));
        Assert.True(client.IsAuthenticated);
        Assert.Equal(1, client.Count);
    }

    [Fact]
    public async Task User_pass_login_works()
    {
        var user = await Server.CreateUserAsync("userpass");
        var transcript = new ProtocolTranscript();
        using var client = await ConnectAsync(transcript);
        var credentials = new CredentialsOnlyFor("DEFAULT", user);

        await client.AuthenticateAsync(credentials);

        // MailKit asks for APOP, then each SASL mechanism it can do (XOAUTH2/OAUTHBEARER never
        // from plain credentials), then DEFAULT for USER/PASS; it skips any it gets no credential for.
        Assert.Equal(["APOP", "PLAIN", "LOGIN", "DEFAULT"], credentials.Asked);
        Assert.Contains($"USER {user.Name}", transcript.ClientLines);
        Assert.Contains($"PASS {user.Password}", transcript.ClientLines);
        Assert.True(client.IsAuthenticated);
    }

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    public async Task Sasl_login_works(string mechanism)
    {
        var user = await Server.CreateUserAsync("sasl");
        var transcript = new ProtocolTranscript();
        using var client = await ConnectAsync(transcript);
        SaslMechanism sasl = mechanism == "PLAIN"
            ? new SaslMechanismPlain(user.Name, user.Password)
            : new SaslMechanismLogin(user.Name, user.Password);

        await client.AuthenticateAsync(sasl);

        Assert.Contains($"AUTH {mechanism}", transcript.ClientLines);
        Assert.Contains("+OK Logged in.", transcript.ServerLines);
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Second_session_waits_for_the_lock_then_gets_IN_USE()
    {
        var user = await Server.CreateUserAsync("lock");
        using var first = await Server.Pop3ConnectAsync(user);
        var userPass = new ProtocolTranscript();
        var saslPlain = new ProtocolTranscript();

        // Both refused logins run at once: each waits out Dovecot's 10 s session lock timeout.
        var clock = Stopwatch.StartNew();
        var failures = await Task.WhenAll(
            SecondLoginAsync(userPass, c => c.AuthenticateAsync(new CredentialsOnlyFor("DEFAULT", user))),
            SecondLoginAsync(saslPlain, c => c.AuthenticateAsync(new SaslMechanismPlain(user.Name, user.Password))));
        var waited = clock.Elapsed;

        // The password was right, and MailKit says only "Authentication failed.": the reason is
        // in the server line it dropped.
        Assert.All(failures, f =>
        {
            Assert.IsType<AuthenticationException>(f);
            Assert.Equal("Authentication failed.", f.Message);
        });
        Assert.Equal(["+OK", InUse], userPass.ServerLines.TakeLast(2));
        Assert.Equal(["+ ", InUse], saslPlain.ServerLines.TakeLast(2));
        Assert.InRange(waited, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(25));

        // QUIT releases the lock at once.
        await first.DisconnectAsync(quit: true);
        using var third = await Server.Pop3ConnectAsync(user);
        Assert.True(third.IsAuthenticated);

        async Task<Exception> SecondLoginAsync(ProtocolTranscript transcript, Func<Pop3Client, Task> login)
        {
            using var client = await ConnectAsync(transcript);
            return await Assert.ThrowsAnyAsync<Exception>(() => login(client));
        }
    }

    private async Task<Pop3Client> ConnectAsync(ProtocolTranscript transcript)
    {
        var client = new Pop3Client(transcript) { Timeout = (int)ClientTimeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(Server.Host, Server.Pop3Port, SecureSocketOptions.None);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static SeedMessage Message(string subject) => new(
        Encoding.ASCII.GetBytes($"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"),
        new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
        MessageFlags.None,
        []);

    /// <summary>
    /// Credentials MailKit gets only when it asks for one auth type ("APOP", a SASL name, or
    /// "DEFAULT" for USER/PASS), which forces that login path; records what it asked for.
    /// </summary>
    private sealed class CredentialsOnlyFor(string authType, TestUser user) : ICredentials
    {
        public List<string> Asked { get; } = [];

        public NetworkCredential? GetCredential(Uri uri, string authType1)
        {
            Asked.Add(authType1);
            return authType1 == authType ? new NetworkCredential(user.Name, user.Password) : null;
        }
    }
}
