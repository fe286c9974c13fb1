using System.Globalization;
using System.Net.Sockets;
using MailKit;
using MailKit.Security;

namespace MailSync.Core.Stores;

/// <summary>
/// Turns what MailKit throws while connecting into a <see cref="StoreConnectException"/> with its
/// <see cref="StoreConnectFailure"/> and one line that says what happened and what to change: the
/// job's error is all a user sees of it (MailKit's own texts span lines and name no setting).
/// Shared by IMAP and POP3 so both say the same thing about the same problem.
/// </summary>
internal static class ConnectFailures
{
    /// <summary>What <see cref="MailEndpoint.Security"/> is called in the job file.</summary>
    public static string SecurityName(MailEndpoint endpoint) => endpoint.Security switch
    {
        SecureSocketOptions.SslOnConnect => "ssl",
        SecureSocketOptions.StartTls => "starttls",
        SecureSocketOptions.None => "none",
        var other => other.ToString(),
    };

    /// <summary>Thrown when a connection that must be encrypted is not, checked before any credential is sent.</summary>
    public static StoreConnectException NotEncrypted(MailEndpoint endpoint) => new(
        $"{endpoint}: the connection is not encrypted although \"security\" is \"{SecurityName(endpoint)}\"; stopped before logging in, the password was not sent",
        StoreConnectFailure.NotEncrypted);

    /// <summary>
    /// The store exception for <paramref name="ex"/>, or <paramref name="ex"/> itself when it is not
    /// a connect failure. <paramref name="connected"/> tells whether ConnectAsync had returned, i.e.
    /// the failure came during login rather than while reaching the server.
    /// </summary>
    /// <param name="protocol">"IMAP" or "POP3", for the STARTTLS command's name and the usual TLS port.</param>
    public static Exception Describe(MailEndpoint endpoint, string protocol, Exception ex, bool connected, CertificateCheck trust)
    {
        var pop3 = protocol == "POP3";
        return ex switch
        {
            StoreConnectException same => same,
            // Past a limit while connecting or logging in: a protocol violation (exit 11), not "cannot connect".
            ServerMisbehavedException => ex,
            AuthenticationException => new StoreConnectException($"{endpoint}: authentication failed: {ex.Message}", StoreConnectFailure.Authentication, ex),
            SslHandshakeException when trust.Rejected => new StoreConnectException(
                $"{endpoint}: the server's TLS certificate is not trusted: {trust.Reason}; stopped before logging in, nothing was sent. "
                + (trust.RejectedSha256 is { } sha
                    ? $"If you have checked that this is your server's certificate, pin its SHA-256 fingerprint in the account: \"certificateFingerprint\": \"{sha}\"; or, for a test server only, set \"trustAnyCertificate\": true"
                    : "Check \"host\" and \"port\"; \"certificateFingerprint\" and \"trustAnyCertificate\" cannot help without a certificate"),
                StoreConnectFailure.Certificate, ex),
            // No certificate was judged: the other side does not speak TLS there (a plain port with
            // "ssl"), or no TLS version or cipher is shared. Either way encryption cannot be had.
            SslHandshakeException => new StoreConnectException(
                $"{endpoint}: no TLS connection could be made ({Innermost(ex)}); "
                + (endpoint.Security == SecureSocketOptions.SslOnConnect
                    ? $"\"security\": \"ssl\" needs the server's TLS port (usually {(pop3 ? 995 : 993)}); check \"port\""
                    : "check \"port\" and \"security\"")
                + "; nothing was sent",
                StoreConnectFailure.NotEncrypted, ex),
            // MailKit refuses StartTls when the capability list lacks it, before any credential is sent.
            NotSupportedException when !connected && endpoint.Security == SecureSocketOptions.StartTls => new StoreConnectException(
                $"{endpoint}: the server does not offer {(pop3 ? "STLS (STARTTLS)" : "STARTTLS")}, which \"security\": \"starttls\" requires; "
                + $"stopped before logging in, the password was not sent in clear. Use \"security\": \"ssl\" if the server has a TLS port (usually {(pop3 ? 995 : 993)}), or ask its administrator to enable TLS",
                StoreConnectFailure.NotEncrypted, ex),
            SocketException socket when !connected => Unreachable(endpoint, socket),
            TimeoutException when !connected => new StoreConnectException(
                $"{endpoint}: no answer from {endpoint.Host}:{Port(endpoint)} within {(endpoint.Timeout ?? TimeSpan.FromMinutes(2)).TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; check \"host\", \"port\" and \"security\", the network and any firewall",
                StoreConnectFailure.Unreachable, ex),
            SocketException or IOException or ProtocolException or TimeoutException
                => new StoreConnectException($"{endpoint}: cannot connect: {OneLine(ex.Message)}", StoreConnectFailure.Other, ex),
            NotSupportedException => new StoreConnectException($"{endpoint}: {OneLine(ex.Message)}", StoreConnectFailure.Other, ex),
            _ => ex,
        };
    }

    private static StoreConnectException Unreachable(MailEndpoint endpoint, SocketException ex)
    {
        var text = ex.SocketErrorCode switch
        {
            SocketError.HostNotFound or SocketError.NoData
                => $"the host name \"{endpoint.Host}\" does not resolve ({ex.Message}); check \"host\" in the account",
            SocketError.TryAgain
                => $"the host name \"{endpoint.Host}\" could not be resolved (temporary DNS failure: {ex.Message}); check the network and DNS, then run again",
            SocketError.ConnectionRefused
                => $"{endpoint.Host} refused the connection on port {Port(endpoint)}: no server listens there; check \"port\" and \"host\", and that the server is running",
            SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.NetworkDown
                => $"{endpoint.Host}:{Port(endpoint)} cannot be reached ({ex.Message}); check \"host\" and \"port\", the network and any firewall",
            _ => $"cannot connect to {endpoint.Host}:{Port(endpoint)} ({ex.Message})",
        };
        return new StoreConnectException($"{endpoint}: {text}", StoreConnectFailure.Unreachable, ex);
    }

    private static string Port(MailEndpoint endpoint) => endpoint.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The deepest cause's text: the outer ones are "see inner exception".</summary>
    private static string Innermost(Exception ex)
    {
        var cause = ex;
        while (cause.InnerException is not null)
            cause = cause.InnerException;
        return OneLine(cause.Message);
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
}
