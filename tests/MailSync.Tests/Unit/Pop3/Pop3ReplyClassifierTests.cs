using MailSync.Core.Resilience;

namespace MailSync.Tests.Unit.Pop3;

public sealed class Pop3ReplyClassifierTests
{
    [Theory]
    // RFC 2449 §8.1 and §8.2, RFC 3206, and server wordings seen in the wild.
    [InlineData("-ERR [IN-USE] Mailbox is locked by another POP3 session", FailureKind.Transient, "IN-USE")]
    [InlineData("-ERR [IN-USE] Unable to lock maildrop: Mailbox is locked by POP server", FailureKind.Transient, "IN-USE")]
    [InlineData("-ERR [LOGIN-DELAY] minimum time between mail checks violation", FailureKind.Transient, "LOGIN-DELAY")]
    [InlineData("-ERR [SYS/TEMP] System busy, try again later", FailureKind.Transient, "SYS/TEMP")]
    [InlineData("-ERR [SYS/TEMP/QUOTA] Temporary quota trouble", FailureKind.Transient, "SYS/TEMP/QUOTA")]
    [InlineData("-err [sys/temp] lower case", FailureKind.Transient, "sys/temp")]
    [InlineData("-ERR [AUTH] Authentication failed.", FailureKind.Account, "AUTH")]
    [InlineData("-ERR [SYS/PERM] Your account is disabled", FailureKind.Account, "SYS/PERM")]
    public void Response_codes_decide_the_class(string line, FailureKind expected, string code)
    {
        Assert.Equal(expected, Pop3ReplyClassifier.Classify(line));
        Assert.Equal(code, Pop3ReplyClassifier.CodeOf(line));
    }

    [Theory]
    [InlineData("-ERR Invalid login or password")]
    [InlineData("-ERR Logon failure: unknown user name or bad password.")]
    [InlineData("-ERR [UNKNOWN-CODE] something")]
    [InlineData("-ERR")]
    [InlineData("+OK [IN-USE] not an error line")]
    [InlineData("")]
    [InlineData(null)]
    public void Lines_without_a_known_code_are_not_classified(string? line)
        => Assert.Null(Pop3ReplyClassifier.Classify(line));

    [Fact]
    public void The_text_is_the_line_without_status_and_code()
    {
        Assert.Equal("Mailbox is locked", Pop3ReplyClassifier.TextOf("-ERR [IN-USE] Mailbox is locked"));
        Assert.Equal("Invalid login", Pop3ReplyClassifier.TextOf("-ERR Invalid login"));
    }
}
