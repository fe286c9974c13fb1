using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Core.Stores;

namespace MailSync.Core.Resilience;

/// <summary>
/// Turns a server's refusal or an exception into a <see cref="FailureClassification"/> (DESIGN.md §4).
/// Response codes (RFC 5530, RFC 7889, RFC 3501) decide where present; since MailKit's
/// <see cref="ImapCommandException"/> drops the code, the well-known wordings of Gmail, Microsoft 365,
/// Yahoo, Dovecot and Cyrus are recognised as well.
/// </summary>
/// <remarks>
/// Unknown texts: a NO, a BAD or a bare text is a <see cref="FailureKind.Message"/> failure. The
/// classifier does not know the command, and the common case of an unexplained refusal is APPEND
/// of one message. Message is the choice that neither spins (retrying gets the same answer; a BAD
/// means the server could not accept this command, whose literal is the message) nor throws away
/// an account over one odd reply; if every message is refused, the report shows it. An unknown
/// BYE is <see cref="FailureKind.Transient"/>: the connection is gone, a new one may work, and the
/// retry pipeline bounds the attempts.
/// </remarks>
public static partial class FailureClassifier
{
    /// <summary>
    /// Gmail's command/bandwidth limit is a daily quota (2500 MB download, 500 MB upload a day, per
    /// Google's documentation); minutes of waiting do not lift it and every reconnect counts, so the
    /// account waits an hour before it tries again.
    /// </summary>
    public static readonly TimeSpan BandwidthParkDelay = TimeSpan.FromHours(1);

    /// <summary>Gmail allows 15 connections per account; the others may finish within a minute.</summary>
    public static readonly TimeSpan ConnectionLimitParkDelay = TimeSpan.FromSeconds(60);

    /// <summary>[THROTTLED] (Gmail) gives no wait; five minutes is the longest the retry pipeline waits anyway.</summary>
    public static readonly TimeSpan ThrottledParkDelay = RetryPipelines.MaxDelay;

    /// <summary>
    /// Classifies an IMAP tagged NO/BAD or untagged BYE text, with or without tag, status word and
    /// response code ("A004 NO [OVERQUOTA] Quota exceeded", "* BYE Server shutting down.", "Quota exceeded").
    /// </summary>
    public static FailureClassification ClassifyServerText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var line = ServerLine.Parse(text);
        return Known(line) ?? line.Status switch
        {
            "BYE" => new(FailureKind.Transient, $"the server closed the connection: {line.Original}"),
            "BAD" => new(FailureKind.Message, $"the server rejected the command (BAD), not retried: {line.Original}"),
            // Whether the run goes on is the caller's to say: a refused message is recorded and the
            // folder goes on, a refused listing stops the job.
            _ => new(FailureKind.Message, $"the server refused without saying why: {line.Original}"),
        };
    }

    /// <summary>
    /// Classifies an exception from a store. <paramref name="lastServerLine"/> is the server's last
    /// line when the caller has it (it carries the response code that MailKit drops).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// For <see cref="OperationCanceledException"/>: cancellation is the user's or the run's decision,
    /// not a failure; callers must let it propagate instead of classifying it.
    /// </exception>
    public static FailureClassification Classify(Exception exception, string? lastServerLine = null)
    {
        // A reason carries the server's words: escaped here, once, so no caller prints them raw.
        var classified = ClassifyCore(exception, lastServerLine);
        return ServerText.Escape(classified.Reason) is { } reason && !ReferenceEquals(reason, classified.Reason) ? classified with { Reason = reason } : classified;
    }

    private static FailureClassification ClassifyCore(Exception exception, string? lastServerLine)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var serverLine = string.IsNullOrWhiteSpace(lastServerLine) ? null : lastServerLine.Trim();
        switch (exception)
        {
            case OperationCanceledException:
                throw new ArgumentException("cancellation is not a failure; let OperationCanceledException propagate", nameof(exception));

            case ServerBusyException busy:
                return new(FailureKind.Transient, busy.Message, busy.SuggestedDelay);

            case StoreConnectException { IsAuthentication: true } auth:
                return new(FailureKind.Account, auth.Message);

            // Not an authentication failure: "cannot connect" wraps a socket error (retry), but a TLS
            // handshake failure or "not encrypted although configured" is configuration, which no
            // amount of retrying fixes, so the cause decides and a missing cause means configuration.
            case StoreConnectException connect:
                return connect.InnerException is { } cause
                    ? Classify(cause, serverLine) with { Reason = connect.Message }
                    : new(FailureKind.Account, connect.Message);

            case TargetRefusedException refused:
                return ClassifyServerText(serverLine ?? refused.ServerText);

            case ImapCommandException imap:
            {
                var status = imap.Response == ImapCommandResponse.Bad ? "BAD" : "NO";
                var text = serverLine ?? (string.IsNullOrWhiteSpace(imap.ResponseText) ? status : $"{status} {imap.ResponseText}");
                return ClassifyServerText(text);
            }

            case Pop3CommandException pop3:
                return ClassifyPop3(serverLine is not null && serverLine.StartsWith("-ERR", StringComparison.OrdinalIgnoreCase)
                    ? serverLine
                    : $"-ERR {pop3.StatusText}".TrimEnd());

            // A failed login. A server whose authentication backend is down says so ("[UNAVAILABLE]
            // Temporary authentication failure", Dovecot): that is worth a retry, anything else is not.
            case MailKit.Security.AuthenticationException auth:
                return Known(ServerLine.Parse(serverLine ?? auth.Message)) is { Kind: FailureKind.Transient } temporary
                    ? temporary
                    : new(FailureKind.Account, $"authentication failed: {auth.Message}");

            // TLS trust is configuration (certificateFingerprint, trustAnyCertificate), not bad luck.
            case SslHandshakeException or System.Security.Authentication.AuthenticationException:
                return new(FailureKind.Account, $"TLS handshake failed: {exception.Message}");

            // A name that does not resolve will not resolve in a minute either: the host is misspelt.
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } dns:
                return new(FailureKind.Account, $"the host name does not resolve: {dns.Message}");

            case StoreFailureException classified:
                return classified.Classification;

            // Past a limit or against the protocol: the connection is dropped (the wire did), this
            // command's folder is given up, and retrying would only meet the same answer.
            case ServerMisbehavedException misbehaved:
                return new(FailureKind.Folder, $"protocol violation: {misbehaved.Message}", ProtocolViolation: true);

            // MailKit could not parse what the server sent (a 2^31-byte literal, a malformed
            // response): the same answer comes back on every attempt, so it is not "try later".
            case ImapProtocolException syntax when IsSyntaxError(syntax):
                return new(FailureKind.Folder, $"protocol violation: the server's answer breaks IMAP's syntax ({syntax.Message})", ProtocolViolation: true);

            case IOException or SocketException or TimeoutException or ImapProtocolException
                or Pop3ProtocolException or ServiceNotConnectedException:
                return new(FailureKind.Transient, $"connection lost ({exception.GetType().Name}): {exception.Message}");

            // Unknown: retrying a bug or an unforeseen state forever helps nobody, and skipping messages
            // could hide it in the report; stopping this account says clearly that something unexpected
            // happened while the other accounts go on.
            default:
                return new(FailureKind.Account, $"unexpected error, stopping this account ({exception.GetType().Name}): {exception.Message}");
        }
    }

    /// <summary>
    /// The server broke IMAP's rules or a limit (<see cref="ServerMisbehavedException"/>, or an
    /// answer MailKit could not parse): a re-run meets the same answer. For a caller that meets
    /// the exception itself, outside <see cref="Classify"/> (the job runner).
    /// </summary>
    public static bool IsProtocolViolation(Exception exception)
        => exception is ServerMisbehavedException || (exception is ImapProtocolException protocol && IsSyntaxError(protocol));

    // MailKit's wording is the only mark it leaves; an unexpected disconnect has another.
    private static bool IsSyntaxError(ImapProtocolException exception) => exception.Message.StartsWith("Syntax error", StringComparison.Ordinal);

    /// <summary>
    /// POP3 response codes are read by <see cref="Pop3ReplyClassifier"/>. Without a code, known
    /// wordings still count; otherwise the reply is a Message failure: logins fail with
    /// AuthenticationException, so a bare -ERR here answers RETR, TOP or DELE of one message.
    /// </summary>
    private static FailureClassification ClassifyPop3(string reply)
    {
        var text = Pop3ReplyClassifier.TextOf(reply);
        if (Pop3ReplyClassifier.Classify(reply) is { } kind)
            return new(kind, $"POP3 [{Pop3ReplyClassifier.CodeOf(reply)}]: {text}");
        return Known(ServerLine.Parse(text)) switch
        {
            // POP3 has one maildrop: if it "does not exist", the account cannot be used.
            { Kind: FailureKind.Folder } folder => folder with { Kind = FailureKind.Account },
            { } known => known,
            null => new(FailureKind.Message, $"the POP3 server refused without a response code: {reply}"),
        };
    }

    /// <summary>The classification by a known code or wording, or null when nothing is recognised.</summary>
    private static FailureClassification? Known(ServerLine line)
    {
        var said = line.Original;
        var text = line.Text;

        // Wordings that decide even over the response code that comes with them.
        if (BandwidthLimit().IsMatch(text))
            return new(FailureKind.Transient, $"account bandwidth/command limit reached, parking the account: {said}", BandwidthParkDelay, ParkAccount: true);
        if (TooManyConnections().IsMatch(text))
            return new(FailureKind.Transient, $"too many connections for this account, parking it briefly: {said}", ConnectionLimitParkDelay, ParkAccount: true);
        if (O365Throttled().Match(text) is { Success: true } throttled)
        {
            TimeSpan? wait = throttled.Groups[1].Success && long.TryParse(throttled.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? TimeSpan.FromMilliseconds(ms)
                : null;
            return new(FailureKind.Transient, $"throttled by the server: {said}", wait);
        }
        if (WebLoginRequired().IsMatch(text))
            return new(FailureKind.Account, $"the provider requires an app password or a web login: {said}");
        if (TooBig().IsMatch(text))
            return new(FailureKind.Message, $"message too large for the server: {said}");
        // Dovecot quota_mailbox_message_count comes with [OVERQUOTA] but limits one mailbox, not the account.
        if (MailboxMessageLimit().IsMatch(text))
            return new(FailureKind.Folder, $"the folder holds as many messages as the server allows: {said}");

        switch (line.Code)
        {
            case "UNAVAILABLE" or "INUSE" or "SERVERBUG":
                return new(FailureKind.Transient, $"temporary server trouble [{line.Code}]: {said}");
            case "THROTTLED":
                return new(FailureKind.Transient, $"throttled [{line.Code}], parking the account: {said}", ThrottledParkDelay, ParkAccount: true);
            case "AUTHENTICATIONFAILED" or "AUTHORIZATIONFAILED" or "EXPIRED" or "PRIVACYREQUIRED" or "CONTACTADMIN" or "WEBALERT":
                return new(FailureKind.Account, $"the account cannot be used [{line.Code}]: {said}");
            // Storage quota (RFC 5530); Gmail's bandwidth [OVERQUOTA] was recognised above by its words.
            case "OVERQUOTA":
                return new(FailureKind.Account, $"storage quota full [{line.Code}]: {said}");
            // EXPUNGEISSUED: the message was deleted meanwhile; PARSE: its header cannot be parsed.
            case "LIMIT" or "TOOBIG" or "PARSE" or "EXPUNGEISSUED":
                return new(FailureKind.Message, $"the message cannot be copied [{line.Code}]: {said}");
            // CORRUPTION is the server's damaged data (a mailbox or its index): retrying reads the same
            // damage, and other folders may be fine. ALREADYEXISTS answers CREATE: a caller creating a
            // folder should re-list instead of classifying it; reaching here, the folder is unusable.
            case "NOPERM" or "NONEXISTENT" or "CANNOT" or "TRYCREATE" or "ALREADYEXISTS" or "CORRUPTION" or "HASCHILDREN" or "USEATTR":
                return new(FailureKind.Folder, $"the folder cannot be used [{line.Code}]: {said}");
        }

        if (TransientText().IsMatch(text))
            return new(FailureKind.Transient, $"temporary server trouble: {said}");
        if (AccountText().IsMatch(text))
            return new(FailureKind.Account, $"the account cannot be used: {said}");
        if (QuotaText().IsMatch(text))
            return new(FailureKind.Account, $"storage quota full: {said}");
        if (FolderText().IsMatch(text))
            return new(FailureKind.Folder, $"the folder cannot be used: {said}");
        if (InvalidMessageText().IsMatch(text))
            return new(FailureKind.Message, $"the message is not acceptable to the server: {said}");
        return null;
    }

    [GeneratedRegex(@"exceeded command or bandwidth limits", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BandwidthLimit();

    [GeneratedRegex(@"too many (simultaneous |concurrent )?connections|maximum number of connections", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TooManyConnections();

    // Microsoft 365: "Request is throttled. Suggested Backoff Time: 12345 milliseconds".
    [GeneratedRegex(@"request is throttled(?:.*?suggested backoff time:\s*(\d+)\s*milliseconds)?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex O365Throttled();

    [GeneratedRegex(@"application-specific password required|log ?in via your web browser|web login required", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex WebLoginRequired();

    // Dovecot quota_max_mail_size: "Mail size is larger than the maximum size allowed by server configuration".
    [GeneratedRegex(@"larger than the maximum size|message (is )?too (large|big)|exceeds? the maximum", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TooBig();

    [GeneratedRegex(@"too many messages in the mailbox", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MailboxMessageLimit();

    // Dovecot "Mailbox is locked", BYE "Disconnected for inactivity" / "Server shutting down", O365
    // "Server Unavailable. 15" and "User is authenticated but not connected.", Yahoo "Please try again
    // later", Dovecot "Temporary authentication failure".
    [GeneratedRegex(@"mailbox is locked|unable to lock|try again later|temporar(y|ily)|server unavailable|authenticated but not connected|disconnected for inactivity|shutting down|server (is )?busy|system busy", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TransientText();

    // Gmail "Invalid credentials (Failure)", Dovecot "Authentication failed.", O365 "LOGIN failed.".
    [GeneratedRegex(@"authentication failed|invalid credentials|(login|logon|authenticate) fail|account (is )?disabled", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AccountText();

    // Dovecot "Quota exceeded (mailbox for user is full)", Cyrus "Over quota".
    [GeneratedRegex(@"quota exceeded|over ?quota|mailbox (for user )?is full|mailbox full", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex QuotaText();

    // Cyrus "Mailbox does not exist", Dovecot "Mailbox doesn't exist: X".
    [GeneratedRegex(@"mailbox (does not|doesn't|doesnt) exist|no such (mailbox|folder)|unknown mailbox|(mailbox|folder) not found|permission denied", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FolderText();

    // Cyrus "Message contains invalid header", Dovecot "8bit data in header", NUL bytes, "Invalid message".
    [GeneratedRegex(@"invalid header|8-?bit data in header|\bNULs?\b|invalid message|message contains invalid", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InvalidMessageText();

    /// <summary>A server line taken apart: status word (NO/BAD/BYE/OK or null), response code atom (upper case or null), the text after them.</summary>
    private readonly partial record struct ServerLine(string Original, string? Status, string? Code, string Text)
    {
        public static ServerLine Parse(string text)
        {
            var original = text.Trim();
            var match = Shape().Match(original);
            var status = match.Groups["status"].Success ? match.Groups["status"].Value : null;
            var code = match.Groups["code"].Success ? match.Groups["code"].Value.ToUpperInvariant() : null;
            return new(original, status, code, match.Groups["text"].Value.Trim());
        }

        // Optional tag ("A004", "*"), optional status word, optional "[CODE args]". Status words are
        // matched in upper case only, as servers send them, so that "No such mailbox" stays text.
        [GeneratedRegex(@"^(?:(?:[A-Za-z0-9.]+|\*)\s+(?=(?:OK|NO|BAD|BYE)\b))?(?:(?<status>OK|NO|BAD|BYE)\b\s*)?(?:\[(?<code>[A-Za-z0-9-]+)[^\]]*\]\s*)?(?<text>.*)$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
        private static partial Regex Shape();
    }
}
