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
        // A refusal left from the connection this one replaces must not be read as this one's.
        (protocolLogger as ImapReplyRecorder)?.Clear();
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
            // "Come back later" at the door: a BYE greeting, or a login refused with [UNAVAILABLE],
            // [INUSE] or [SERVERBUG]. MailKit reports both as a failed connect or login; the
            // server's own line says it is temporary, so it is retried and, when the retries run
            // out, the job ends with "run again later" (exit 6), not as a refused password.
            if ((protocolLogger as ImapReplyRecorder)?.LastRefusal is { } refusal && ComeBackLater(endpoint, refusal, ex) is { } later)
                throw later;
            throw ConnectFailures.Describe(endpoint, "IMAP", ex, connected, trust);
        }
    }

    private static ServerBusyException? ComeBackLater(MailEndpoint endpoint, string refusal, Exception cause)
    {
        var classified = Resilience.FailureClassifier.ClassifyServerText(refusal);
        return classified.Kind == Resilience.FailureKind.Transient
            ? new ServerBusyException($"{endpoint}: the server asks to come back later: {ServerText.Escape(refusal)}", classified.SuggestedDelay, cause)
            : null;
    }
}
