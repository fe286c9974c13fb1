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

    [Fact]
    public void Never_reads_what_the_client_sends()
    {
        var recorder = new ImapReplyRecorder();
        var login = Encoding.ASCII.GetBytes("A00000001 LOGIN alice \"NO secret\"\r\n");
        recorder.LogClient(login, 0, login.Length);
        Assert.Null(recorder.LastRefusal);
    }
}
