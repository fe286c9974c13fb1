using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailKit.Security;

namespace MailSync.Core.Stores.Imap;

/// <summary>
/// Opens the connection MailKit's IMAP client then runs over, as an <see cref="ImapWire"/>: TCP,
/// then TLS (at once for "ssl", after STARTTLS for "starttls"), done here rather than by MailKit so
/// that the wire sits above TLS, where it sees IMAP and not ciphertext. MailKit is then connected
/// to it without security of its own; whether the connection is encrypted is decided and checked
/// here, before any credential is sent.
/// </summary>
/// <remarks>
/// Failures are thrown as MailKit throws them when it connects by itself (a <see cref="SocketException"/>
/// for an unreachable host, a <see cref="TimeoutException"/>, an <see cref="SslHandshakeException"/>,
/// a <see cref="NotSupportedException"/> for a server without STARTTLS), so
/// <see cref="ConnectFailures"/> describes them the same way.
/// </remarks>
internal static class ImapTransport
{
    /// <summary>Lines read before TLS (greeting, CAPABILITY, STARTTLS answer) are short; a longer one is not an IMAP server.</summary>
    private const int MaxLineBytes = 16 * 1024;

    /// <summary>
    /// Connects to <paramref name="endpoint"/> and returns the wire for MailKit, with a replayed
    /// greeting where STARTTLS consumed the real one. Every step is bounded by the endpoint's timeout.
    /// </summary>
    public static async Task<ImapWire> OpenAsync(MailEndpoint endpoint, CertificateCheck trust, CancellationToken cancellationToken)
    {
        var timeout = endpoint.Timeout ?? TimeSpan.FromMinutes(2);
        var socket = await ConnectSocketAsync(endpoint, timeout, cancellationToken).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                switch (endpoint.Security)
                {
                    case SecureSocketOptions.SslOnConnect:
                        stream = await HandshakeAsync(stream, endpoint, trust, deadline.Token).ConfigureAwait(false);
                        break;
                    case SecureSocketOptions.StartTls or SecureSocketOptions.StartTlsWhenAvailable:
                        stream = await StartTlsAsync(stream, endpoint, trust, deadline.Token).ConfigureAwait(false);
                        break;
                }
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no answer within {timeout.TotalSeconds:0} s while setting up the connection", ex);
            }

            return new ImapWire(stream)
            {
                Encrypted = stream is SslStream or ReplayStream { Inner: SslStream },
                Guard = new ImapResponseGuard(endpoint.Limits ?? ServerLimits.Default, timeout, TimeProvider.System),
                Server = endpoint.ToString(),
            };
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<Socket> ConnectSocketAsync(MailEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, deadline.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"no connection within {timeout.TotalSeconds:0} s", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Stream> HandshakeAsync(Stream plain, MailEndpoint endpoint, CertificateCheck trust, CancellationToken cancellationToken)
    {
        var tls = new SslStream(plain, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = endpoint.Host,
                // As MailKit does by default.
                CertificateRevocationCheckMode = X509RevocationMode.Online,
                RemoteCertificateValidationCallback = trust.Validate,
            }, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new SslHandshakeException($"TLS handshake with {endpoint.Host}:{endpoint.Port} failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Reads the greeting, asks for CAPABILITY unless the greeting gave it, sends STARTTLS only to a
    /// server that offers it, and shakes hands; returns the encrypted stream with a greeting replayed
    /// for MailKit (without the pre-TLS capability list, which must be asked for again under TLS).
    /// </summary>
    private static async Task<Stream> StartTlsAsync(Stream plain, MailEndpoint endpoint, CertificateCheck trust, CancellationToken cancellationToken)
    {
        var reader = new LineReader(plain);
        var greeting = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (!greeting.StartsWith("* OK", StringComparison.OrdinalIgnoreCase))
        {
            // BYE, PREAUTH (already logged in without TLS) or not IMAP: let MailKit say what it is.
            return new ReplayStream(Encoding.ASCII.GetBytes(greeting + "\r\n"), plain);
        }

        var capabilities = CapabilityCode(greeting);
        if (capabilities is null)
        {
            await SendAsync(plain, "M0 CAPABILITY\r\n", cancellationToken).ConfigureAwait(false);
            var (untagged, _) = await reader.ReadResponseAsync("M0", cancellationToken).ConfigureAwait(false);
            capabilities = string.Join(' ', untagged.Where(l => l.StartsWith("* CAPABILITY ", StringComparison.OrdinalIgnoreCase)).Select(l => l[13..]));
        }

        if (!capabilities.Split(' ').Contains("STARTTLS", StringComparer.OrdinalIgnoreCase))
        {
            if (endpoint.Security == SecureSocketOptions.StartTlsWhenAvailable)
                return new ReplayStream(Encoding.ASCII.GetBytes(WithoutCode(greeting) + "\r\n"), plain);
            // MailKit's own words and exception type for this case.
            throw new NotSupportedException("The IMAP server does not support the STARTTLS extension.");
        }

        await SendAsync(plain, "M1 STARTTLS\r\n", cancellationToken).ConfigureAwait(false);
        var (_, tagged) = await reader.ReadResponseAsync("M1", cancellationToken).ConfigureAwait(false);
        if (!tagged.StartsWith("M1 OK", StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreConnectException(
                $"{endpoint}: the server offers STARTTLS but refused it ({Printable(tagged[3..])}); stopped before logging in, the password was not sent in clear",
                StoreConnectFailure.NotEncrypted);
        }

        var tls = await HandshakeAsync(plain, endpoint, trust, cancellationToken).ConfigureAwait(false);
        return new ReplayStream(Encoding.ASCII.GetBytes(WithoutCode(greeting) + "\r\n"), tls);
    }

    /// <summary>A server's words, fit for a message: control characters and anything past 200 characters left out.</summary>
    private static string Printable(string text)
    {
        var clean = new string([.. text.Where(c => !char.IsControl(c)).Take(200)]);
        return clean.Length < text.Length ? clean + "…" : clean;
    }

    private static Task SendAsync(Stream stream, string line, CancellationToken cancellationToken)
        => stream.WriteAsync(Encoding.ASCII.GetBytes(line), cancellationToken).AsTask();

    /// <summary>The capability list in a greeting's "[CAPABILITY …]" code, or null.</summary>
    private static string? CapabilityCode(string greeting)
    {
        const string Code = "[CAPABILITY ";
        var start = greeting.IndexOf(Code, StringComparison.OrdinalIgnoreCase);
        var end = start < 0 ? -1 : greeting.IndexOf(']', start);
        return end < 0 ? null : greeting[(start + Code.Length)..end];
    }

    /// <summary>"* OK [code] text" as "* OK text": a pre-TLS response code must not reach MailKit as if said under TLS.</summary>
    private static string WithoutCode(string greeting)
    {
        var text = greeting[4..].TrimStart();
        if (text.StartsWith('[') && text.IndexOf(']') is var end and > 0)
            text = text[(end + 1)..].TrimStart();
        return "* OK " + (text.Length > 0 ? text : "ready");
    }

    /// <summary>Reads CRLF-terminated lines byte by byte (only a few lines are read before TLS), bounded in length.</summary>
    private sealed class LineReader(Stream stream)
    {
        // One byte at a time, so nothing said after STARTTLS's answer is read here: a server that
        // sends plaintext there breaks the handshake instead of being believed (STARTTLS injection).
        private readonly byte[] _one = new byte[1];

        public async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                if (await stream.ReadAsync(_one, cancellationToken).ConfigureAwait(false) == 0)
                    throw new IOException("the server closed the connection");
                if (_one[0] == (byte)'\n')
                    return Encoding.Latin1.GetString(line.ToArray()).TrimEnd('\r');
                if (line.Count == MaxLineBytes)
                    throw new IOException($"the server sent a line longer than {MaxLineBytes} bytes before TLS");
                line.Add(_one[0]);
            }
        }

        /// <summary>Untagged lines up to the line tagged <paramref name="tag"/>, and that line.</summary>
        public async Task<(List<string> Untagged, string Tagged)> ReadResponseAsync(string tag, CancellationToken cancellationToken)
        {
            var untagged = new List<string>();
            for (var i = 0; i < 100; i++)
            {
                var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line.StartsWith(tag + " ", StringComparison.Ordinal))
                    return (untagged, line);
                untagged.Add(line);
            }

            throw new IOException("the server sent more than 100 lines before TLS without answering");
        }
    }
}
