using MailKit;
using System.Net;
using MailKit.Net.Imap;
using MailKit.Security;

namespace MailSync.Core.Stores.Imap;

/// <summary>Opens and authenticates one <see cref="ImapClient"/>, mapping failures to <see cref="StoreConnectException"/>.</summary>
internal static class ImapConnector
{
    public static async Task<SpoolingImapClient> ConnectAsync(MailEndpoint endpoint, IProtocolLogger protocolLogger, long spoolToDiskAbove, CancellationToken cancellationToken)
    {
        var trust = new CertificateCheck(endpoint);
        var client = new SpoolingImapClient(protocolLogger, spoolToDiskAbove)
        {
            Timeout = (int)(endpoint.Timeout ?? TimeSpan.FromMinutes(2)).TotalMilliseconds,
            ServerCertificateValidationCallback = trust.Validate,
        };
        var connected = false;
        try
        {
            // TLS is set up under MailKit, by the transport, so that MailSync's wire sits above it.
            var wire = await ImapTransport.OpenAsync(endpoint, trust, cancellationToken).ConfigureAwait(false);
            await client.ConnectAsync(wire, endpoint.Host, endpoint.Port, SecureSocketOptions.None, cancellationToken).ConfigureAwait(false);
            client.Wire = wire;
            connected = true;
            // A missing STARTTLS must never downgrade silently to plaintext.
            if (endpoint.Security != SecureSocketOptions.None && !wire.Encrypted)
                throw ConnectFailures.NotEncrypted(endpoint);

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
            throw ConnectFailures.Describe(endpoint, "IMAP", ex, connected, trust);
        }
    }
}
