using System.Text;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Unit;

/// <summary>The bits of IMAP syntax the test IMAP fault proxy relies on, without a server.</summary>
public sealed class ImapFaultProxySyntaxTests
{
    [Theory]
    [InlineData("A1 APPEND INBOX {310}\r\n", 310, true)]
    [InlineData("A1 APPEND INBOX (\\Seen) {3145763+}\r\n", 3145763, false)]
    [InlineData(" (\\Seen) {12+}\r\n", 12, false)]
    [InlineData("* 1 FETCH (UID 1 BODY[] {0}\r\n", 0, true)]
    [InlineData("* 1 FETCH (BINARY[] ~{42}\r\n", 42, true)]
    [InlineData("A1 LOGIN {5}\n", 5, true)]
    [InlineData("A1 NOOP\r\n", -1, false)]
    [InlineData("A1 SEARCH SUBJECT \"{5}\"\r\n", -1, false)]
    [InlineData("* OK {x}\r\n", -1, false)]
    [InlineData("* OK {}\r\n", -1, false)]
    [InlineData("* OK {+}\r\n", -1, false)]
    [InlineData("}\r\n", -1, false)]
    public void LiteralLength_reads_the_marker_at_the_line_end(string line, long expected, bool synchronizing)
    {
        Assert.Equal(expected, ImapSyntax.LiteralLength(Encoding.ASCII.GetBytes(line), out var sync));
        Assert.Equal(synchronizing, sync);
    }

    [Theory]
    [InlineData("A00000005 APPEND INBOX {3+}\r\n", "A00000005", "APPEND")]
    [InlineData("a1 uid fetch 1:* (FLAGS)\r\n", "a1", "UID FETCH")]
    [InlineData("a1 UID\r\n", "a1", "UID")]
    [InlineData("x noop\r\n", "x", "NOOP")]
    [InlineData("x LOGOUT\n", "x", "LOGOUT")]
    public void ParseCommand_takes_the_tag_and_verb_with_uid_prefix(string line, string tag, string verb)
    {
        Assert.Equal((tag, verb), ImapSyntax.ParseCommand(Encoding.ASCII.GetBytes(line)));
    }

    [Theory]
    [InlineData("* 12 FETCH (UID 3 BODY[] {5}\r\n", true)]
    [InlineData("* 12 fetch (FLAGS ())\r\n", true)]
    [InlineData("* 12 EXISTS\r\n", false)]
    [InlineData("* FETCH (x)\r\n", false)]
    [InlineData("* 1 FETCHED\r\n", false)]
    [InlineData("A1 OK FETCH done\r\n", false)]
    public void IsFetchResponse_wants_a_sequence_number_and_fetch(string line, bool expected) =>
        Assert.Equal(expected, ImapSyntax.IsFetchResponse(Encoding.ASCII.GetBytes(line)));

    [Theory]
    [InlineData("* CAPABILITY IMAP4rev1 COMPRESS=DEFLATE IDLE\r\n", "* CAPABILITY IMAP4rev1 IDLE\r\n")]
    [InlineData("* OK [CAPABILITY IMAP4rev1 compress=deflate] ready\r\n", "* OK [CAPABILITY IMAP4rev1] ready\r\n")]
    [InlineData("A1 OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE LITERAL+] Logged in\r\n", "A1 OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in\r\n")]
    [InlineData("* CAPABILITY IMAP4rev1 COMPRESS=DEFLATE\r\n", "* CAPABILITY IMAP4rev1\r\n")]
    public void WithoutCompress_drops_compress_deflate_from_capability_lists(string line, string expected)
    {
        var rewritten = ImapSyntax.WithoutCompress(Encoding.ASCII.GetBytes(line));
        Assert.Equal(expected, Encoding.ASCII.GetString(Assert.IsType<byte[]>(rewritten)));
    }

    [Theory]
    [InlineData("* CAPABILITY IMAP4rev1 IDLE\r\n")]
    [InlineData("* 1 FETCH (ENVELOPE (NIL \"COMPRESS=DEFLATE\" NIL))\r\n")]
    [InlineData("* CAPABILITY IMAP4rev1 COMPRESS=DEFLATEX\r\n")]
    public void WithoutCompress_leaves_other_lines_alone(string line) =>
        Assert.Null(ImapSyntax.WithoutCompress(Encoding.ASCII.GetBytes(line)));
}
