using System.Text;
using MailSync.Core.Stores.Imap;

namespace MailSync.Tests.Unit.Resilience;

public sealed class ImapReplyRecorderTests
{
    private static void Feed(ImapReplyRecorder recorder, string text, int chunk)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var i = 0; i < bytes.Length; i += chunk)
            recorder.LogServer(bytes, i, Math.Min(chunk, bytes.Length - i));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Keeps_the_last_refusal_with_its_response_code_whatever_the_chunking(int chunk)
    {
        var recorder = new ImapReplyRecorder();
        Feed(recorder,
            "* 3 FETCH (UID 9 BODY[] {40}\r\nA00000004 NO [THROTTLED] inside a body\r\n)\r\n" +
            "A00000005 OK Fetch completed.\r\n" +
            "A00000006 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n" +
            "* OK Still here\r\n", chunk);

        Assert.Equal("A00000006 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)", recorder.LastRefusal);

        Feed(recorder, "* BYE [UNAVAILABLE] Server shutting down.\r\n", chunk);
        Assert.Equal("* BYE [UNAVAILABLE] Server shutting down.", recorder.LastRefusal);

        recorder.Clear();
        Feed(recorder, "A00000007 OK [APPENDUID 1 5] Append completed.\r\n", chunk);
        Assert.Null(recorder.LastRefusal);
    }

    /// <summary>
    /// MailKit moves the tag's letter on with every client a process creates (A, B, C…): a
    /// refusal is kept whatever the letter; a line that is no tagged response is not.
    /// </summary>
    [Theory]
    [InlineData("C00000002 NO [UNAVAILABLE] try later", true)]
    [InlineData("Z00000013 BAD [CLIENTBUG] oops", true)]
    [InlineData("Subject NO thanks", false)]
    [InlineData("S00000001 NO [UNAVAILABLE] a client whose letter is S", true)]
    [InlineData("C0000002 NO short tag", false)]
    public void Keeps_refusals_of_every_client_a_process_creates(string line, bool kept)
    {
        var recorder = new ImapReplyRecorder();
        // The connection's first command shows the tag letter its client uses.
        var command = System.Text.Encoding.ASCII.GetBytes($"{line[0]}00000000 CAPABILITY\r\n");
        recorder.LogClient(command, 0, command.Length);
        Feed(recorder, line + "\r\n", 4096);
        Assert.Equal(kept ? line : null, recorder.LastRefusal);
    }

    [Fact]
    public void Never_reads_what_the_client_sends()
    {
        var recorder = new ImapReplyRecorder();
        var login = Encoding.ASCII.GetBytes("A00000001 LOGIN alice \"NO secret\"\r\n");
        recorder.LogClient(login, 0, login.Length);
        Assert.Null(recorder.LastRefusal);
    }
}
