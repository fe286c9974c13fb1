using System.Text;
using MailSync.Core.Stores;
using MimeKit;
using MimeKit.IO;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// <see cref="VerbatimMessage"/>: whatever the bytes, MailKit's APPEND writes and announces exactly
/// them. One row per way the old parse-and-write path changed a message (issue table), and more.
/// </summary>
public sealed class VerbatimMessageTests
{
    public static TheoryData<string, byte[]> Messages() => new()
    {
        { "mbox From_ line first", Bytes("From sender@example.org Sat Jan  3 01:05:34 1996\nSubject: hi\n\nbody\n") },
        { "no final newline", Bytes("Subject: hi\r\n\r\nlast line without break") },
        { "first line starts with whitespace (no header block)", Bytes(" leading space\r\nmore\r\n") },
        { "UTF-8 byte-order mark", [0xEF, 0xBB, 0xBF, .. Bytes("Subject: bom\r\n\r\nbody\r\n")] },
        { "header without a body", Bytes("Subject: only a header\r\nX-Other: 1\r\n") },
        { "header without a body or final newline", Bytes("Subject: only a header") },
        { "empty message", [] },
        { "bare CR", Bytes("Subject: cr\r\n\r\na\rb\r\r\nc\r") },
        { "bare LF kept (the target may refuse it, but nothing converts it)", Bytes("Subject: lf\n\nline\nline\n") },
        { "Content-Type and Content-Transfer-Encoding that a parser would move", Bytes("Content-Type: text/plain\r\nSubject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\u00e9\r\n") },
        { "blank lines inside headers and at the end", Bytes("Subject: a\r\n\r\n\r\n\r\nbody\r\n\r\n\r\n") },
        { "NUL bytes (sent as a binary literal where allowed)", Bytes("Subject: nul\r\n\r\na\0b\r\n") },
        { "200 KB (several measuring chunks)", Bytes("Subject: big\r\n\r\n" + string.Concat(Enumerable.Range(0, 4000).Select(i => $"line {i} {new string('x', 40)}\r\n"))) },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task What_MailKit_appends_is_exactly_the_bytes_and_their_length(string name, byte[] raw)
    {
        // The options MailKit's APPEND uses (ImapFolder.CreateAppendOptions): CRLF, final newline ensured.
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        format.EnsureNewLine = true;
        using var content = new MemoryStream(raw, writable: false);
        var message = VerbatimMessage.Create(content);

        using var written = new MemoryStream();
        message.WriteTo(format, written);
        using var writtenAsync = new MemoryStream();
        await message.WriteToAsync(format, writtenAsync);
        using var measure = new MeasuringStream();
        message.WriteTo(format, measure);

        Assert.True(raw.AsSpan().SequenceEqual(written.ToArray()), $"{name}: {raw.Length} bytes in, {written.Length} written, and they differ");
        Assert.True(raw.AsSpan().SequenceEqual(writtenAsync.ToArray()), $"{name}: the asynchronous write differs");
        // MailKit announces the measured length as the literal's size: it must be what is sent.
        Assert.Equal(raw.Length, measure.Length);
    }

    [Fact]
    public void The_same_stream_is_written_again_from_its_start_for_each_attempt()
    {
        var raw = Bytes("Subject: twice\r\n\r\nbody\r\n");
        using var content = new MemoryStream(raw, writable: false);
        var message = VerbatimMessage.Create(content);
        using var first = new MemoryStream();
        message.WriteTo(first);
        using var second = new MemoryStream();
        message.WriteTo(second);
        Assert.Equal(raw, first.ToArray());
        Assert.Equal(raw, second.ToArray());
    }

    public static TheoryData<string, byte[], string?, string?> Headers() => new()
    {
        { "plain", Bytes("Message-ID: <a@b>\r\nDate: Tue, 1 Jan 2019 10:00:00 +0000\r\n\r\nx\r\n"), "a@b", "Tue, 1 Jan 2019 10:00:00 +0000" },
        { "after an mbox From_ line", Bytes("From x@y Tue Jan  1 10:00:00 2019\nMessage-ID: <c@d>\nDate: Wed, 2 Jan 2019 10:00:00 +0000\n\nx\n"), "c@d", "Wed, 2 Jan 2019 10:00:00 +0000" },
        { "no header block", Bytes(" not a header\r\nat all\r\n"), null, null },
        { "empty", [], null, null },
        { "Message-ID without brackets", Bytes("Message-ID: bare@id\r\n\r\n"), "bare@id", null },
        { "headers only, no blank line", Bytes("Message-ID: <e@f>"), "e@f", null },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Identity_and_date_are_read_from_the_raw_header_lines_tolerantly(string name, byte[] raw, string? messageId, string? date)
    {
        using var content = new MemoryStream(raw, writable: false);
        var headers = RawMessage.ReadHeaders(content);
        Assert.True(messageId == RawMessage.MessageId(headers), $"{name}: Message-ID {RawMessage.MessageId(headers)}");
        Assert.Equal(date, headers[HeaderId.Date]?.Trim());
        Assert.Equal(0, content.Position);
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
