using System.Net.Sockets;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;

namespace MailSync.Tests.Unit.Resilience;

public sealed class FailureClassifierTests
{
    private const double Hour = 3600;

    [Theory]
    // RFC 5530 / RFC 3501 response codes.
    [InlineData("A001 NO [UNAVAILABLE] Temporary failure", FailureKind.Transient, false, null)]
    [InlineData("A001 NO [INUSE] Mailbox in use", FailureKind.Transient, false, null)]
    [InlineData("A001 NO [SERVERBUG] Internal error occurred. Refer to server log for more information.", FailureKind.Transient, false, null)]
    [InlineData("A001 NO [AUTHENTICATIONFAILED] Authentication failed.", FailureKind.Account, false, null)]
    [InlineData("A001 NO [AUTHORIZATIONFAILED] No such authorization-ID", FailureKind.Account, false, null)]
    [InlineData("A001 NO [EXPIRED] That password isn't valid any more", FailureKind.Account, false, null)]
    [InlineData("A001 NO [PRIVACYREQUIRED] Connection offers no privacy", FailureKind.Account, false, null)]
    [InlineData("A001 NO [CONTACTADMIN] You need to contact the system administrator", FailureKind.Account, false, null)]
    [InlineData("A004 NO [LIMIT] At most 32 flags in one mailbox supported", FailureKind.Message, false, null)]
    [InlineData("A004 NO [TOOBIG] Message too big", FailureKind.Message, false, null)]
    [InlineData("A004 NO [PARSE] Invalid message header", FailureKind.Message, false, null)]
    [InlineData("A004 NO [EXPUNGEISSUED] Some messages were expunged", FailureKind.Message, false, null)]
    [InlineData("A003 NO [NOPERM] Access denied", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [NONEXISTENT] Unknown Mailbox: Archiv", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [CANNOT] Invalid mailbox name", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [ALREADYEXISTS] Mailbox already exists", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [CORRUPTION] Mailbox index is corrupted", FailureKind.Folder, false, null)]
    [InlineData("A004 NO [TRYCREATE] Mailbox doesn't exist: Sent", FailureKind.Folder, false, null)]
    [InlineData("a004 no [overquota] lower-case codes count too", FailureKind.Account, false, null)]
    // Dovecot.
    [InlineData("A004 NO [OVERQUOTA] Quota exceeded (mailbox for user is full) (0.001 + 0.000 secs).", FailureKind.Account, false, null)]
    [InlineData("Quota exceeded (mailbox for user is full)", FailureKind.Account, false, null)]
    [InlineData("A004 NO [LIMIT] Mail size is larger than the maximum size allowed by server configuration (0.001 + 0.000 secs).", FailureKind.Message, false, null)]
    [InlineData("A004 NO [OVERQUOTA] Mail size is larger than the maximum size allowed by server configuration", FailureKind.Message, false, null)]
    [InlineData("Mail size is larger than the maximum size allowed by server configuration", FailureKind.Message, false, null)]
    [InlineData("A004 NO [OVERQUOTA] Too many messages in the mailbox (0.001 + 0.000 secs).", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [NONEXISTENT] Mailbox doesn't exist: Archive/2019 (0.001 + 0.000 secs).", FailureKind.Folder, false, null)]
    [InlineData("Mailbox doesn't exist: Archive/2019", FailureKind.Folder, false, null)]
    [InlineData("A003 NO [INUSE] Mailbox is locked, will abort", FailureKind.Transient, false, null)]
    [InlineData("Mailbox is locked, will abort", FailureKind.Transient, false, null)]
    [InlineData("* BYE Disconnected for inactivity.", FailureKind.Transient, false, null)]
    [InlineData("* BYE Server shutting down.", FailureKind.Transient, false, null)]
    [InlineData("A001 NO [UNAVAILABLE] Temporary authentication failure. [mail1:2024-05-01 10:00:00]", FailureKind.Transient, false, null)]
    [InlineData("A004 NO Invalid message: 8bit data in header", FailureKind.Message, false, null)]
    [InlineData("A004 NO Message contains NUL characters", FailureKind.Message, false, null)]
    // Cyrus.
    [InlineData("A004 NO Over quota", FailureKind.Account, false, null)]
    [InlineData("A003 NO Mailbox does not exist", FailureKind.Folder, false, null)]
    [InlineData("A004 NO Message contains invalid header", FailureKind.Message, false, null)]
    [InlineData("A004 NO Message contains bare newlines", FailureKind.Message, false, null)]
    // Gmail.
    [InlineData("A005 NO [OVERQUOTA] Account exceeded command or bandwidth limits. https://support.google.com/mail/answer/7126229 (Failure)", FailureKind.Transient, true, Hour)]
    [InlineData("Account exceeded command or bandwidth limits. https://support.google.com/mail/answer/7126229 (Failure)", FailureKind.Transient, true, Hour)]
    [InlineData("A005 NO [THROTTLED] Account exceeded command or bandwidth limits", FailureKind.Transient, true, Hour)]
    [InlineData("A005 NO [THROTTLED] Too many requests", FailureKind.Transient, true, 300.0)]
    [InlineData("A001 NO [ALERT] Too many simultaneous connections. (Failure)", FailureKind.Transient, true, 60.0)]
    [InlineData("Too many simultaneous connections. (Failure)", FailureKind.Transient, true, 60.0)]
    [InlineData("A001 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)", FailureKind.Account, false, null)]
    [InlineData("A001 NO [ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)", FailureKind.Account, false, null)]
    [InlineData("A001 NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1] Web login required.", FailureKind.Account, false, null)]
    [InlineData("A001 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", FailureKind.Account, false, null)]
    [InlineData("Invalid credentials (Failure)", FailureKind.Account, false, null)]
    // Microsoft 365 / Exchange Online.
    [InlineData("A006 NO Request is throttled. Suggested Backoff Time: 12345 milliseconds", FailureKind.Transient, false, 12.345)]
    [InlineData("Request is throttled. Suggested Backoff Time: 12345 milliseconds", FailureKind.Transient, false, 12.345)]
    [InlineData("A002 NO User is authenticated but not connected.", FailureKind.Transient, false, null)]
    [InlineData("A002 BAD User is authenticated but not connected.", FailureKind.Transient, false, null)]
    [InlineData("A002 NO Server Unavailable. 15", FailureKind.Transient, false, null)]
    [InlineData("A001 NO LOGIN failed.", FailureKind.Account, false, null)]
    // Yahoo.
    [InlineData("A001 NO [UNAVAILABLE] SELECT Server error - Please try again later", FailureKind.Transient, false, null)]
    [InlineData("SELECT Server error - Please try again later", FailureKind.Transient, false, null)]
    // Unknown texts: NO/BAD/bare are one message's problem, BYE is a lost connection.
    [InlineData("A004 NO Something nobody has seen before", FailureKind.Message, false, null)]
    [InlineData("A004 BAD Error in IMAP command APPEND: Invalid arguments.", FailureKind.Message, false, null)]
    [InlineData("A004 NO [UNKNOWNCODE] whatever", FailureKind.Message, false, null)]
    [InlineData("No such message", FailureKind.Message, false, null)]
    [InlineData("* BYE Some goodbye we do not know", FailureKind.Transient, false, null)]
    [InlineData("BYE", FailureKind.Transient, false, null)]
    [InlineData("", FailureKind.Message, false, null)]
    public void Server_texts_are_classified(string text, FailureKind kind, bool park, double? delaySeconds)
    {
        var result = FailureClassifier.ClassifyServerText(text);
        Assert.Equal(kind, result.Kind);
        Assert.Equal(park, result.ParkAccount);
        Assert.Equal(delaySeconds is { } s ? TimeSpan.FromSeconds(s) : null, result.SuggestedDelay);
        Assert.Contains(text.Trim(), result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_bandwidth_limit_parks_for_an_hour_and_longer_than_the_retry_pipeline_waits()
    {
        var result = FailureClassifier.ClassifyServerText("NO [OVERQUOTA] Account exceeded command or bandwidth limits.");
        Assert.Equal(TimeSpan.FromHours(1), result.SuggestedDelay);
        Assert.True(result.SuggestedDelay > RetryPipelines.MaxDelay);
        Assert.True(result.ParkAccount);
    }

    [Theory]
    [InlineData("NO [OVERQUOTA] Quota exceeded", FailureKind.Account)]
    [InlineData("[OVERQUOTA] Quota exceeded", FailureKind.Account)]
    [InlineData("Quota exceeded", FailureKind.Account)]
    [InlineData("* BYE [UNAVAILABLE] Server shutting down", FailureKind.Transient)]
    [InlineData("  A1 NO [NOPERM] Permission denied  ", FailureKind.Folder)]
    public void The_tag_status_word_and_response_code_are_all_optional(string text, FailureKind kind)
        => Assert.Equal(kind, FailureClassifier.ClassifyServerText(text).Kind);

    public static TheoryData<Exception, FailureKind> TransportFailures => new()
    {
        { new IOException("Unable to read data from the transport connection: Connection reset by peer."), FailureKind.Transient },
        { new SocketException((int)SocketError.ConnectionReset), FailureKind.Transient },
        { new TimeoutException("The operation has timed out."), FailureKind.Transient },
        { new ImapProtocolException("The IMAP server has unexpectedly disconnected."), FailureKind.Transient },
        { new ImapProtocolException("Syntax error in BODY. Unexpected token: [Error: '{2147483648}']"), FailureKind.Folder },
        { new Pop3ProtocolException("The POP3 server has unexpectedly disconnected."), FailureKind.Transient },
        { new ServiceNotConnectedException("The ImapClient is not connected."), FailureKind.Transient },
        { new MailKit.Security.AuthenticationException("Invalid credentials (Failure)"), FailureKind.Account },
        { new MailKit.Security.AuthenticationException(), FailureKind.Account },
        { new SslHandshakeException("An error occurred while attempting to establish an SSL or TLS connection."), FailureKind.Account },
        { new System.Security.Authentication.AuthenticationException("The remote certificate is invalid."), FailureKind.Account },
    };

    [Theory]
    [MemberData(nameof(TransportFailures))]
    public void Transport_and_login_exceptions_are_classified(Exception exception, FailureKind kind)
    {
        var result = FailureClassifier.Classify(exception);
        Assert.Equal(kind, result.Kind);
        Assert.False(result.ParkAccount);
        Assert.Contains(exception.Message, result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_login_refused_because_the_auth_backend_is_down_is_transient()
    {
        var ex = new MailKit.Security.AuthenticationException("Temporary authentication failure. [mail1:2024-05-01 10:00:00]");
        Assert.Equal(FailureKind.Transient, FailureClassifier.Classify(ex).Kind);
        // The code on the server's line decides when the caller has it.
        var plain = new MailKit.Security.AuthenticationException("Authentication failed.");
        Assert.Equal(FailureKind.Transient, FailureClassifier.Classify(plain, "A1 NO [UNAVAILABLE] Try again").Kind);
        Assert.Equal(FailureKind.Account, FailureClassifier.Classify(plain).Kind);
    }

    [Fact]
    public void ImapCommandException_is_classified_by_its_response_text()
    {
        var quota = new ImapCommandException(ImapCommandResponse.No, "Quota exceeded (mailbox for user is full)",
            "The IMAP server replied to the 'APPEND' command with a 'NO' response: Quota exceeded (mailbox for user is full)");
        Assert.Equal(FailureKind.Account, FailureClassifier.Classify(quota).Kind);

        var throttled = new ImapCommandException(ImapCommandResponse.No, "Request is throttled. Suggested Backoff Time: 2500 milliseconds");
        var result = FailureClassifier.Classify(throttled);
        Assert.Equal(FailureKind.Transient, result.Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), result.SuggestedDelay);

        var missing = new ImapCommandException(ImapCommandResponse.No, "Mailbox does not exist");
        Assert.Equal(FailureKind.Folder, FailureClassifier.Classify(missing).Kind);
    }

    [Fact]
    public void The_last_server_line_supplies_the_response_code_MailKit_drops()
    {
        // MailKit keeps only "Mailbox in use" of "A7 NO [INUSE] Mailbox in use": unknown words alone.
        var ex = new ImapCommandException(ImapCommandResponse.No, "Mailbox in use");
        Assert.Equal(FailureKind.Message, FailureClassifier.Classify(ex).Kind);
        Assert.Equal(FailureKind.Transient, FailureClassifier.Classify(ex, "A7 NO [INUSE] Mailbox in use").Kind);
        Assert.Equal(FailureKind.Message, FailureClassifier.Classify(ex, "   ").Kind);
    }

    [Fact]
    public void ImapCommandException_without_text_falls_back_on_its_response()
    {
        var no = new ImapCommandException(ImapCommandResponse.No, "", "The IMAP server replied to the 'APPEND' command with a 'NO' response.");
        var bad = new ImapCommandException(ImapCommandResponse.Bad, "", "The IMAP server replied to the 'APPEND' command with a 'BAD' response.");
        var noResult = FailureClassifier.Classify(no);
        var badResult = FailureClassifier.Classify(bad);
        Assert.Equal(FailureKind.Message, noResult.Kind);
        Assert.Equal(FailureKind.Message, badResult.Kind);
        Assert.Contains("BAD", badResult.Reason, StringComparison.Ordinal);
    }

    [Theory]
    // Codes go through Pop3ReplyClassifier (RFC 2449, RFC 3206).
    [InlineData("[IN-USE] Mailbox is locked by another POP3 session", FailureKind.Transient)]
    [InlineData("[SYS/TEMP] System busy, try again later", FailureKind.Transient)]
    [InlineData("[SYS/PERM] Your account is disabled", FailureKind.Account)]
    [InlineData("[AUTH] Authentication failed.", FailureKind.Account)]
    // No code: known wordings, else one message's problem (RETR/TOP/DELE; logins throw AuthenticationException).
    [InlineData("Unable to lock maildrop: Mailbox is locked by POP server", FailureKind.Transient)]
    [InlineData("Mailbox does not exist", FailureKind.Account)]
    [InlineData("No such message", FailureKind.Message)]
    [InlineData("Message 17 has been deleted", FailureKind.Message)]
    [InlineData("[UNKNOWN-CODE] something", FailureKind.Message)]
    [InlineData("", FailureKind.Message)]
    public void Pop3CommandException_is_classified_by_its_status_text(string statusText, FailureKind kind)
    {
        var ex = new Pop3CommandException("The POP3 server replied with an error.", statusText);
        Assert.Equal(kind, FailureClassifier.Classify(ex).Kind);
    }

    [Fact]
    public void A_POP3_last_line_is_used_only_when_it_is_an_ERR_line()
    {
        var ex = new Pop3CommandException("The POP3 server replied with an error.", "Mailbox in use");
        Assert.Equal(FailureKind.Transient, FailureClassifier.Classify(ex, "-ERR [IN-USE] Mailbox in use").Kind);
        Assert.Equal(FailureKind.Message, FailureClassifier.Classify(ex, "+OK 2 messages").Kind);
    }

    [Fact]
    public void Our_own_store_exceptions_are_classified()
    {
        var busy = FailureClassifier.Classify(new ServerBusyException("[LOGIN-DELAY] wait", TimeSpan.FromSeconds(30)));
        Assert.Equal(FailureKind.Transient, busy.Kind);
        Assert.Equal(TimeSpan.FromSeconds(30), busy.SuggestedDelay);
        Assert.Null(FailureClassifier.Classify(new ServerBusyException("[IN-USE] locked")).SuggestedDelay);

        Assert.Equal(FailureKind.Account,
            FailureClassifier.Classify(new StoreConnectException("x: authentication failed", isAuthentication: true)).Kind);
        Assert.Equal(FailureKind.Transient,
            FailureClassifier.Classify(new StoreConnectException("x: cannot connect", isAuthentication: false, new SocketException((int)SocketError.ConnectionRefused))).Kind);

        var refused = FailureClassifier.Classify(new TargetRefusedException("[OVERQUOTA] Quota exceeded (mailbox for user is full)"));
        Assert.Equal(FailureKind.Account, refused.Kind);
        Assert.Equal(FailureKind.Message, FailureClassifier.Classify(new TargetRefusedException("Message contains invalid header")).Kind);
        Assert.Equal(FailureKind.Message, FailureClassifier.Classify(new TargetRefusedException("odd refusal")).Kind);
    }

    [Fact]
    public void A_connect_failure_that_is_configuration_stops_the_account()
    {
        var tls = new StoreConnectException("x: TLS handshake failed", isAuthentication: false, new SslHandshakeException("untrusted"));
        var result = FailureClassifier.Classify(tls);
        Assert.Equal(FailureKind.Account, result.Kind);
        Assert.Equal("x: TLS handshake failed", result.Reason);
        // "The connection is not encrypted although SslOnConnect was configured" has no cause to retry.
        Assert.Equal(FailureKind.Account,
            FailureClassifier.Classify(new StoreConnectException("x: not encrypted", isAuthentication: false)).Kind);
    }

    [Fact]
    public void Unknown_exceptions_stop_the_account_instead_of_being_retried()
    {
        var result = FailureClassifier.Classify(new InvalidOperationException("nobody expected this"));
        Assert.Equal(FailureKind.Account, result.Kind);
        Assert.False(result.ParkAccount);
        Assert.Null(result.SuggestedDelay);
        Assert.Contains("InvalidOperationException", result.Reason, StringComparison.Ordinal);
        Assert.Contains("nobody expected this", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_is_not_classified()
    {
        Assert.Throws<ArgumentException>(() => FailureClassifier.Classify(new OperationCanceledException()));
        Assert.Throws<ArgumentException>(() => FailureClassifier.Classify(new TaskCanceledException()));
        Assert.Throws<ArgumentNullException>(() => FailureClassifier.Classify(null!));
        Assert.Throws<ArgumentNullException>(() => FailureClassifier.ClassifyServerText(null!));
    }
}
