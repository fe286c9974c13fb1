using System.Text;
using MailSync.Core.Stores.Pop3;

namespace MailSync.Tests.Unit.Pop3;

public sealed class LastReplyRecorderTests
{
    private static void Feed(LastReplyRecorder recorder, string text, int chunk)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var i = 0; i < bytes.Length; i += chunk)
            recorder.LogServer(bytes, i, Math.Min(chunk, bytes.Length - i));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Keeps_the_last_error_line_across_chunk_boundaries(int chunk)
    {
        var recorder = new LastReplyRecorder();
        Feed(recorder, "+OK Dovecot ready.\r\n-ERR [AUTH] first\r\n+OK\r\nline of a body\r\n-ERR [IN-USE] Mailbox is locked\r\n", chunk);
        Assert.Equal("-ERR [IN-USE] Mailbox is locked", recorder.LastError);
    }

    [Fact]
    public void Ignores_client_lines_and_error_text_that_is_not_at_a_line_start()
    {
        var recorder = new LastReplyRecorder();
        var secret = Encoding.ASCII.GetBytes("-ERR PASS hunter2\r\n");
        recorder.LogClient(secret, 0, secret.Length);
        Feed(recorder, "+OK x -ERR inside\r\n", 5);
        Assert.Null(recorder.LastError);
        Feed(recorder, "-ERR real\r\n", 3);
        recorder.Clear();
        Assert.Null(recorder.LastError);
    }
}
