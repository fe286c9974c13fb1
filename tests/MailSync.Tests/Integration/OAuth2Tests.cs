using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Integration;

/// <summary>
/// XOAUTH2 and OAUTHBEARER against the feature server, whose oauth2 passdb asks the fixture's
/// introspection endpoint on 127.0.0.1; password logins keep working next to it.
/// </summary>
[Collection(FeatureDovecotCollection.Name)]
public sealed class OAuth2Tests(FeatureDovecotFixture fixture)
{
    /// <summary>Dovecot's XOAUTH2/OAUTHBEARER error challenge, base64 of this JSON.</summary>
    private const string ErrorJson = """{"status":"401","schemes":"bearer","scope":"mail"}""";
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    private DovecotServer Server => fixture.Server;

    [Theory]
    [InlineData("imap", "XOAUTH2")]
    [InlineData("imap", "OAUTHBEARER")]
    [InlineData("pop3", "XOAUTH2")]
    [InlineData("pop3", "OAUTHBEARER")]
    public async Task An_issued_token_logs_in(string protocol, string mechanism)
    {
        var user = await Server.CreateUserAsync("oauth");
        var token = Server.IssueOAuth2Token(user);
        var asked = Server.OAuth2Endpoint!.RequestCount;
        using var client = NewClient(protocol, new ProtocolTranscript());
        await ConnectAsync(client, protocol);

        await client.AuthenticateAsync(Mechanism(mechanism, user.Name, token));

        Assert.True(client.IsAuthenticated);
        Assert.True(Server.OAuth2Endpoint.RequestCount > asked, "Dovecot did not ask the introspection endpoint");
    }

    [Fact]
    public async Task Wrong_revoked_and_foreign_tokens_are_refused_and_passwords_still_work()
    {
        var alice = await Server.CreateUserAsync("alice");
        var bob = await Server.CreateUserAsync("bob");
        var revoked = Server.IssueOAuth2Token(alice);
        Server.RevokeOAuth2Token(revoked);
        string[] refusedTokens = ["not-a-token", alice.Password, revoked, Server.IssueOAuth2Token(bob)];

        foreach (var token in refusedTokens)
        {
            // IMAP: MailKit answers the error challenge with an empty line and gets a tagged NO.
            var imapTranscript = new ProtocolTranscript();
            using (var imap = new ImapClient(imapTranscript) { Timeout = (int)ClientTimeout.TotalMilliseconds })
            {
                await imap.ConnectAsync(Server.Host, Server.ImapPort, SecureSocketOptions.None);
                var refused = await Assert.ThrowsAsync<AuthenticationException>(
                    () => imap.AuthenticateAsync(new SaslMechanismOAuth2(alice.Name, token)));
                Assert.Equal("Authentication failed.", refused.Message);
                Assert.Equal("+ " + Base64(ErrorJson), imapTranscript.ServerLines[^2]);
                Assert.EndsWith(" NO [AUTHENTICATIONFAILED] Authentication failed.", imapTranscript.ServerLines[^1]);
            }

            // POP3: MailKit does not expect the error challenge and gives up with a protocol error
            // (the connection stays open, Dovecot still waiting for the SASL reply).
            var popTranscript = new ProtocolTranscript();
            using (var pop = new Pop3Client(popTranscript) { Timeout = (int)ClientTimeout.TotalMilliseconds })
            {
                await pop.ConnectAsync(Server.Host, Server.Pop3Port, SecureSocketOptions.None);
                var refused = await Assert.ThrowsAsync<Pop3ProtocolException>(
                    () => pop.AuthenticateAsync(new SaslMechanismOAuth2(alice.Name, token)));
                Assert.Equal("POP3 server did not respond with a +OK response to the AUTH command.", refused.Message);
                Assert.Equal("+ " + Base64(ErrorJson), popTranscript.ServerLines[^1]);
            }
        }

        using (var imap = await Server.ConnectAsync(alice))
        {
            Assert.True(imap.IsAuthenticated);
        }

        using var pop3 = await Server.Pop3ConnectAsync(alice);
        Assert.True(pop3.IsAuthenticated);
    }

    private static IMailService NewClient(string protocol, ProtocolTranscript transcript) => protocol switch
    {
        "imap" => new ImapClient(transcript) { Timeout = (int)ClientTimeout.TotalMilliseconds },
        "pop3" => new Pop3Client(transcript) { Timeout = (int)ClientTimeout.TotalMilliseconds },
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, null),
    };

    private Task ConnectAsync(IMailService client, string protocol) => client.ConnectAsync(
        Server.Host, protocol == "imap" ? Server.ImapPort : Server.Pop3Port, SecureSocketOptions.None);

    private static SaslMechanism Mechanism(string name, string user, string token) => name switch
    {
        "XOAUTH2" => new SaslMechanismOAuth2(user, token),
        "OAUTHBEARER" => new SaslMechanismOAuthBearer(user, token),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static string Base64(string text) => Convert.ToBase64String(Encoding.ASCII.GetBytes(text));
}
