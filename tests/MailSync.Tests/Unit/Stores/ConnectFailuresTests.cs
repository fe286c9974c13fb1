using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailKit.Net.Imap;
using MailKit.Security;
using MailSync.Core.Stores;

namespace MailSync.Tests.Unit.Stores;

public sealed class ConnectFailuresTests
{
    private const string Secret = "s3cret-never-shown";

    private static readonly MailEndpoint StartTls = new("mail.example.org", 143, SecureSocketOptions.StartTls, "alice", Secret);
    private static readonly MailEndpoint Ssl = StartTls with { Port = 993, Security = SecureSocketOptions.SslOnConnect };

    [Theory]
    [InlineData(SocketError.HostNotFound, "the host name \"mail.example.org\" does not resolve")]
    [InlineData(SocketError.NoData, "the host name \"mail.example.org\" does not resolve")]
    [InlineData(SocketError.TryAgain, "temporary DNS failure")]
    [InlineData(SocketError.ConnectionRefused, "mail.example.org refused the connection on port 993")]
    [InlineData(SocketError.TimedOut, "mail.example.org:993 cannot be reached")]
    [InlineData(SocketError.NetworkUnreachable, "mail.example.org:993 cannot be reached")]
    [InlineData(SocketError.AddressNotAvailable, "cannot connect to mail.example.org:993")]
    public void A_socket_error_while_connecting_is_an_unreachable_server(SocketError error, string text)
    {
        var failure = Describe(Ssl, new SocketException((int)error), connected: false);
        Assert.Equal(StoreConnectFailure.Unreachable, failure.Failure);
        Assert.StartsWith("alice@mail.example.org:993: ", failure.Message);
        Assert.Contains(text, failure.Message);
    }

    [Fact]
    public void No_answer_while_connecting_is_an_unreachable_server_but_a_timeout_at_login_is_not()
    {
        Assert.Equal(StoreConnectFailure.Unreachable, Describe(Ssl, new TimeoutException(), connected: false).Failure);
        Assert.Equal(StoreConnectFailure.Other, Describe(Ssl, new TimeoutException(), connected: true).Failure);
    }

    [Fact]
    public void A_missing_STARTTLS_is_missing_encryption_and_says_the_password_stayed_home()
    {
        var failure = Describe(StartTls, new NotSupportedException("The IMAP server does not support the STARTTLS extension."), connected: false);
        Assert.Equal(StoreConnectFailure.NotEncrypted, failure.Failure);
        Assert.Contains("does not offer STARTTLS", failure.Message);
        Assert.Contains("the password was not sent in clear", failure.Message);
        Assert.Contains("usually 993", failure.Message);

        var pop3 = Describe(StartTls, new NotSupportedException("The POP3 server does not support the STLS extension."), connected: false, "POP3");
        Assert.Contains("does not offer STLS (STARTTLS)", pop3.Message);
        Assert.Contains("usually 995", pop3.Message);

        // After connecting, NotSupportedException is about something else (a login mechanism).
        Assert.Equal(StoreConnectFailure.Other, Describe(StartTls, new NotSupportedException("no mechanism"), connected: true).Failure);
        Assert.Equal(StoreConnectFailure.NotEncrypted, ConnectFailures.NotEncrypted(StartTls).Failure);
    }

    [Fact]
    public void A_handshake_without_a_certificate_decision_is_missing_encryption()
    {
        var failure = Describe(Ssl, new SslHandshakeException("An error occurred while attempting to establish an SSL or TLS connection.\n\nMore lines.",
            new IOException("Cannot determine the frame size or a corrupted frame was received.")), connected: false);
        Assert.Equal(StoreConnectFailure.NotEncrypted, failure.Failure);
        Assert.Contains("no TLS connection could be made (Cannot determine the frame size or a corrupted frame was received)", failure.Message);
        Assert.DoesNotContain('\n', failure.Message);
    }

    [Fact]
    public void A_refused_certificate_names_its_fingerprint_and_both_settings()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=mail.example.org", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var sha = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        var trust = new CertificateCheck(Ssl);
        Assert.False(trust.Validate(this, certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));

        var failure = Describe(Ssl, new SslHandshakeException("untrusted"), connected: false, trust: trust);
        Assert.Equal(StoreConnectFailure.Certificate, failure.Failure);
        Assert.Contains("TLS certificate is not trusted: no trusted authority vouches for it", failure.Message);
        Assert.Contains($"\"certificateFingerprint\": \"{sha}\"", failure.Message);
        Assert.Contains("\"trustAnyCertificate\": true", failure.Message);

        // A pinned account accepts exactly that certificate, whatever the chain says.
        Assert.True(new CertificateCheck(Ssl with { CertificateFingerprint = sha }).Validate(this, certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
        var mismatch = new CertificateCheck(Ssl with { CertificateFingerprint = new string('0', 64) });
        Assert.False(mismatch.Validate(this, certificate, null, SslPolicyErrors.None));
        Assert.Contains("does not match the pinned certificateFingerprint", mismatch.Reason);
        Assert.Equal(sha, mismatch.RejectedSha256);
    }

    [Fact]
    public void Logins_and_store_exceptions_keep_their_meaning_and_the_rest_passes_through()
    {
        Assert.Equal(StoreConnectFailure.Authentication, Describe(Ssl, new AuthenticationException("Authentication failed."), connected: true).Failure);
        var same = new StoreConnectException("x", StoreConnectFailure.Certificate);
        Assert.Same(same, ConnectFailures.Describe(Ssl, "IMAP", same, connected: true, new CertificateCheck(Ssl)));
        Assert.Equal(StoreConnectFailure.Other, Describe(Ssl, new ImapProtocolException("bad greeting"), connected: false).Failure);
        var unknown = new InvalidOperationException("bug");
        Assert.Same(unknown, ConnectFailures.Describe(Ssl, "IMAP", unknown, connected: true, new CertificateCheck(Ssl)));
    }

    [Fact]
    public void IsAuthentication_follows_the_failure()
    {
        Assert.True(new StoreConnectException("x", StoreConnectFailure.Authentication).IsAuthentication);
        Assert.False(new StoreConnectException("x", StoreConnectFailure.Unreachable).IsAuthentication);
        Assert.Equal(StoreConnectFailure.Authentication, new StoreConnectException("x", isAuthentication: true).Failure);
        Assert.Equal(StoreConnectFailure.Other, new StoreConnectException("x", isAuthentication: false).Failure);
    }

    private static StoreConnectException Describe(MailEndpoint endpoint, Exception ex, bool connected, string protocol = "IMAP", CertificateCheck? trust = null)
    {
        var failure = Assert.IsType<StoreConnectException>(ConnectFailures.Describe(endpoint, protocol, ex, connected, trust ?? new CertificateCheck(endpoint)));
        Assert.DoesNotContain(Secret, failure.Message);
        return failure;
    }
}
