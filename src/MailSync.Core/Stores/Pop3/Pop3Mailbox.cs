using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using MailKit;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Core.Resilience;

namespace MailSync.Core.Stores.Pop3;

/// <summary>
/// One POP3 session used as a source: the only code that touches MailKit's <see cref="Pop3Client"/>.
/// Deletion is explicit: DELE only through <see cref="DeleteAndQuitAsync"/>, and every other way
/// out of the session (an error, <see cref="DisposeAsync"/>) drops the connection without QUIT, so
/// the server forgets any mark (RFC 1939 §6: deletions happen only in the UPDATE state after QUIT).
/// </summary>
public sealed class Pop3Mailbox(MailEndpoint endpoint) : IAsyncDisposable
{
    /// <summary>TOP requests per pipelined batch when fingerprinting.</summary>
    private const int HeaderBatch = 100;

    private readonly LastReplyRecorder _replies = new();
    private Pop3Client? _client;

    public MailEndpoint Endpoint { get; } = endpoint;

    /// <summary>False when the server has no UIDL and messages are known by fingerprint.</summary>
    public bool HasUidl { get; private set; } = true;

    private Pop3Client Client => _client ?? throw new ServiceNotConnectedException($"{Endpoint}: not connected");

    /// <summary>False before connecting, after the session ended and after a failure that broke it.</summary>
    public bool IsConnected => _client is { IsConnected: true };

    /// <summary>
    /// Opens a session. A refused or dropped connection is a transient <see cref="StoreFailureException"/>;
    /// a wrong password, a bad certificate or an unknown host stay <see cref="StoreConnectException"/>.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ConnectCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StoreConnectException ex) when (ex.Failure is StoreConnectFailure.Unreachable or StoreConnectFailure.Other && ex.InnerException is { } cause
            && FailureClassifier.Classify(cause) is { Kind: FailureKind.Transient } transient)
        {
            throw new StoreFailureException(transient with { Reason = ex.Message }, ex);
        }
    }

    private async Task ConnectCoreAsync(CancellationToken cancellationToken)
    {
        if (_client is not null)
        {
            _client.Dispose();
            _client = null;
        }

        var trust = new CertificateCheck(Endpoint);
        var client = new Pop3Client(_replies)
        {
            Timeout = (int)(Endpoint.Timeout ?? TimeSpan.FromMinutes(2)).TotalMilliseconds,
            ServerCertificateValidationCallback = trust.Validate,
        };
        var connected = false;
        try
        {
            await client.ConnectAsync(Endpoint.Host, Endpoint.Port, Endpoint.Security, cancellationToken).ConfigureAwait(false);
            connected = true;
            if (Endpoint.Security != SecureSocketOptions.None && !client.IsSecure)
                throw ConnectFailures.NotEncrypted(Endpoint);
            _replies.Clear();
            await AuthenticateAsync(client, cancellationToken).ConfigureAwait(false);
            _client = client;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var classified = Classify(ex, client, connected, trust);
            client.Dispose();
            throw classified;
        }
    }

    /// <summary>
    /// Every message with its identity. UIDL when the server has it; otherwise a hash of the
    /// header block (TOP n 0) and the size, numbered when several messages share one.
    /// </summary>
    public Task<IReadOnlyList<Pop3Listing>> ListAsync(CancellationToken cancellationToken)
        => GuardAsync(ListCoreAsync, cancellationToken);

    private async Task<IReadOnlyList<Pop3Listing>> ListCoreAsync(CancellationToken cancellationToken)
    {
        var client = Client;
        var count = await client.GetMessageCountAsync(cancellationToken).ConfigureAwait(false);
        if (count == 0)
            return [];
        var sizes = await client.GetMessageSizesAsync(cancellationToken).ConfigureAwait(false);
        IList<string> keys;
        try
        {
            keys = await client.GetMessageUidsAsync(cancellationToken).ConfigureAwait(false);
            HasUidl = true;
        }
        catch (NotSupportedException)
        {
            HasUidl = false;
            keys = await FingerprintAsync(client, sizes, cancellationToken).ConfigureAwait(false);
        }

        // A UIDL must be unique (RFC 1939 §7), but a buggy server or two identical messages under
        // fingerprinting can repeat one; the n-th repeat in message order gets "#n".
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var result = new List<Pop3Listing>(count);
        for (var i = 0; i < count; i++)
        {
            var key = keys[i];
            var n = seen[key] = seen.GetValueOrDefault(key) + 1;
            result.Add(new Pop3Listing(i, sizes[i], n == 1 ? key : $"{key}#{n.ToString(CultureInfo.InvariantCulture)}"));
        }

        return result;
    }

    /// <summary>
    /// The messages at <paramref name="indexes"/>, in order, in one pipelined exchange where the
    /// server supports it. MailKit holds each in memory, so callers bound the batch by bytes.
    /// </summary>
    public Task<IList<Stream>> RetrieveAsync(IList<int> indexes, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            try
            {
                return await Client.GetStreamsAsync(indexes, headersOnly: false, ct).ConfigureAwait(false);
            }
            catch (Pop3CommandException ex) when (Classify(ex, _client) is ServerBusyException busy)
            {
                throw new StoreFailureException(new FailureClassification(FailureKind.Transient, busy.Message, busy.SuggestedDelay), ex);
            }
        }, cancellationToken);

    /// <summary>
    /// Marks the messages deleted and ends the session with QUIT, which makes the server delete
    /// them. The caller must have recorded every one as safely copied before calling.
    /// </summary>
    public Task DeleteAndQuitAsync(IList<int> indexes, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            await DeleteAndQuitCoreAsync(indexes, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task DeleteAndQuitCoreAsync(IList<int> indexes, CancellationToken cancellationToken)
    {
        var client = Client;
        if (indexes.Count > 0)
            await client.DeleteMessagesAsync(indexes, cancellationToken).ConfigureAwait(false);
        await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
        client.Dispose();
        _client = null;
    }

    /// <summary>Ends the session politely with nothing deleted: RSET clears any mark, then QUIT.</summary>
    public Task CloseAsync(CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            await CloseCoreAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task CloseCoreAsync(CancellationToken cancellationToken)
    {
        var client = Client;
        await client.ResetAsync(cancellationToken).ConfigureAwait(false);
        await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
        client.Dispose();
        _client = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is null)
            return;
        try
        {
            // Without QUIT the server rolls back: nothing can be deleted by an interrupted run.
            if (_client.IsConnected)
                await _client.DisconnectAsync(quit: false).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }

        _client.Dispose();
        _client = null;
    }

    private async Task AuthenticateAsync(Pop3Client client, CancellationToken cancellationToken)
    {
        var credentials = new NetworkCredential(Endpoint.User, Endpoint.Password);
        switch (Endpoint.AuthMechanism?.ToUpperInvariant())
        {
            case null:
                // MailKit's order: APOP when offered, then SASL by strength, then USER/PASS.
                await client.AuthenticateAsync(credentials, cancellationToken).ConfigureAwait(false);
                break;
            case "USER":
                await client.AuthenticateAsync(new SingleMethodCredentials("DEFAULT", credentials), cancellationToken).ConfigureAwait(false);
                break;
            case "APOP":
                if ((client.Capabilities & Pop3Capabilities.Apop) == 0)
                    throw new StoreConnectException($"{Endpoint}: the server does not offer APOP (no timestamp in its greeting); use another authMechanism", StoreConnectFailure.Authentication);
                await client.AuthenticateAsync(new SingleMethodCredentials("APOP", credentials), cancellationToken).ConfigureAwait(false);
                break;
            case var sasl:
                try
                {
                    await client.AuthenticateAsync(ServerTrust.CreateMechanism(sasl, credentials), cancellationToken).ConfigureAwait(false);
                }
                catch (Pop3ProtocolException ex) when (sasl is "XOAUTH2" or "OAUTHBEARER")
                {
                    // A refused token comes back as a "+ <error JSON>" challenge that MailKit's POP3
                    // client does not answer; it is a refused login, not a broken connection.
                    throw new StoreConnectException($"{Endpoint}: the server refused the {sasl} token (expired or revoked?)", StoreConnectFailure.Authentication, ex);
                }

                break;
        }
    }

    private static async Task<IList<string>> FingerprintAsync(Pop3Client client, IList<int> sizes, CancellationToken cancellationToken)
    {
        var keys = new List<string>(sizes.Count);
        for (var start = 0; start < sizes.Count; start += HeaderBatch)
        {
            var indexes = Enumerable.Range(start, Math.Min(HeaderBatch, sizes.Count - start)).ToList();
            var headers = await client.GetStreamsAsync(indexes, headersOnly: true, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < indexes.Count; i++)
            {
                using var stream = headers[i];
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[8192];
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    hash.AppendData(buffer, 0, read);
                hash.AppendData(System.Text.Encoding.ASCII.GetBytes($"\n{sizes[indexes[i]].ToString(CultureInfo.InvariantCulture)}"));
                keys.Add("fp:" + Convert.ToHexStringLower(hash.GetHashAndReset())[..40]);
            }
        }

        return keys;
    }

    /// <summary>
    /// Runs one command of an open session; a failure becomes a classified <see cref="StoreFailureException"/>.
    /// A failure that drops the session drops it without QUIT, so the server deletes nothing.
    /// </summary>
    private async Task<T> GuardAsync<T>(Func<CancellationToken, Task<T>> command, CancellationToken cancellationToken)
    {
        _replies.Clear();
        try
        {
            return await command(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not StoreFailureException)
        {
            var cause = FailureClassifier.Classify(ex, _replies.LastError);
            if (cause.Kind == FailureKind.Transient || _client is not { IsConnected: true })
            {
                _client?.Dispose();
                _client = null;
            }

            throw new StoreFailureException(cause with { Reason = $"{Endpoint}: {cause.Reason}" }, ex);
        }
    }

    /// <summary>
    /// Turns MailKit's exceptions into the store's, reading the server's response code where there
    /// is one. <paramref name="connected"/> and <paramref name="trust"/> describe the connect
    /// attempt; after it, the session is connected and its certificate was accepted.
    /// </summary>
    private Exception Classify(Exception ex, Pop3Client? client, bool connected = true, CertificateCheck? trust = null)
    {
        var reply = (ex as Pop3CommandException)?.StatusText is { Length: > 0 } status ? "-ERR " + status : _replies.LastError;
        var code = Pop3ReplyClassifier.CodeOf(reply);
        var said = reply is null ? ex.Message : Pop3ReplyClassifier.TextOf(reply);
        var kind = Pop3ReplyClassifier.Classify(reply);
        if (kind == FailureKind.Transient)
        {
            TimeSpan? wait = code is not null && code.StartsWith("LOGIN-DELAY", StringComparison.OrdinalIgnoreCase) && client?.LoginDelay > 0
                ? TimeSpan.FromSeconds(client.LoginDelay)
                : null;
            return new ServerBusyException($"{Endpoint}: the server asks to try again later [{code}]: {said}", wait, ex);
        }

        // [AUTH] or [SYS/PERM], whatever MailKit made of it (it may have tried another method on a closed connection).
        if (kind == FailureKind.Account)
            return new StoreConnectException($"{Endpoint}: login refused [{code}]: {said}", StoreConnectFailure.Authentication, ex);

        return ex switch
        {
            AuthenticationException => new StoreConnectException($"{Endpoint}: authentication failed: {said}", StoreConnectFailure.Authentication, ex),
            _ => ConnectFailures.Describe(Endpoint, "POP3", ex, connected, trust ?? new CertificateCheck(Endpoint)),
        };
    }
}
