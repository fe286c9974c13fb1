using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace MailSync.Core.Stores.Imap;

/// <summary>Opens and authenticates one <see cref="ImapClient"/>, mapping failures to <see cref="StoreConnectException"/>.</summary>
internal static class ImapConnector
{
    public static async Task<ImapClient> ConnectAsync(MailEndpoint endpoint, IProtocolLogger protocolLogger, CancellationToken cancellationToken)
    {
        var client = new ImapClient(protocolLogger)
        {
            Timeout = (int)(endpoint.Timeout ?? TimeSpan.FromMinutes(2)).TotalMilliseconds,
            ServerCertificateValidationCallback = (_, certificate, _, errors) => ServerTrust.Validate(endpoint, certificate, errors),
        };
        try
        {
            await client.ConnectAsync(endpoint.Host, endpoint.Port, endpoint.Security, cancellationToken).ConfigureAwait(false);
            // Auto or a missing STARTTLS must never downgrade silently to plaintext.
            if (endpoint.Security != SecureSocketOptions.None && !client.IsSecure)
                throw new StoreConnectException($"{endpoint}: the connection is not encrypted although {endpoint.Security} was configured", isAuthentication: false);

            var credentials = new NetworkCredential(endpoint.User, endpoint.Password);
            if (endpoint.AuthMechanism is { } name)
                await client.AuthenticateAsync(ServerTrust.CreateMechanism(name, credentials), cancellationToken).ConfigureAwait(false);
            else
                await client.AuthenticateAsync(credentials, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            client.Dispose();
            throw ex switch
            {
                StoreConnectException same => same,
                AuthenticationException => new StoreConnectException($"{endpoint}: authentication failed: {ex.Message}", isAuthentication: true, ex),
                SslHandshakeException => new StoreConnectException($"{endpoint}: TLS handshake failed (certificate not trusted? set certificateFingerprint or trustAnyCertificate only if you mean it): {ex.Message}", isAuthentication: false, ex),
                SocketException or IOException or ImapProtocolException or TimeoutException
                    => new StoreConnectException($"{endpoint}: cannot connect: {ex.Message}", isAuthentication: false, ex),
                NotSupportedException => new StoreConnectException($"{endpoint}: {ex.Message}", isAuthentication: false, ex),
                _ => ex,
            };
        }
    }
}
