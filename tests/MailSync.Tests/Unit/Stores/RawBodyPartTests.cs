using System.Text;
using MailSync.Core.Stores;
using MimeKit;
using MimeKit.IO;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// The canonical fast path of <see cref="RawBodyPart"/>: a message <see cref="RawMessage.Scan"/>
/// calls canonical is written without the CRLF filter and measured without being read, and that
/// must give exactly the bytes and the literal length of the filtered path, with the options
/// MailKit's APPEND uses (CRLF, ensure a final newline).
/// </summary>
public sealed class RawBodyPartTests
{
    public static TheoryData<string, byte[]> CanonicalMessages()
    {
        var big = new StringBuilder();
        for (var i = 0; big.Length < 200_000; i++)
            big.Append("Line ").Append(i).Append(' ').Append('y', i % 90).Append("\r\n");
        return new TheoryData<string, byte[]>
        {
            { "small text", Message("Subject: hi\r\n", "Hello\r\nWorld\r\n") },
            { "empty body", Message("Subject: nothing\r\n", string.Empty) },
            { "body of blank lines", Message("Subject: blank\r\n", "\r\n\r\n\r\n") },
            { "bare CR inside the body", Message("Subject: cr\r\n", "a\rb\r\nc\r\r\n") },
            { "folded and odd headers", Message("Subject: a\r\n  folded line\r\nX-Odd:no-space\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n", "body\r\n") },
            { "multipart", Message("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n", "--b\r\nContent-Type: text/plain\r\n\r\npart\r\n--b--\r\n") },
            { "200 KB body (several measuring chunks)", Message("Subject: big\r\n", big.ToString()) },
        };
    }

    [Theory]
    [MemberData(nameof(CanonicalMessages))]
    public void Canonical_fast_path_writes_and_measures_exactly_what_the_filtered_path_does(string name, byte[] raw)
    {
        Assert.Equal((false, true), RawMessage.Scan(new MemoryStream(raw)));
        using var fastStream = new MemoryStream(raw, writable: false);
        using var slowStream = new MemoryStream(raw, writable: false);
        var fast = RawMessage.Create(fastStream, canonical: true, out var fastShape);
        var slow = RawMessage.Create(slowStream, canonical: false, out var slowShape);

        var fastBytes = Write(fast);
        var slowBytes = Write(slow);
        var fastLength = Measure(fast);
        var slowLength = Measure(slow);

        Assert.Equal(RawMessage.Shape.Verbatim, fastShape);
        Assert.Equal(slowShape, fastShape);
        Assert.True(slowBytes.SequenceEqual(fastBytes), $"{name}: the fast path wrote {fastBytes.Length} bytes, the filtered path {slowBytes.Length}, and they differ");
        // A canonical message goes out exactly as it came in.
        Assert.True(raw.SequenceEqual(fastBytes), $"{name}: {raw.Length} bytes in, {fastBytes.Length} written, and they differ");
        // MailKit announces the measured length as the literal size: it must be what is then sent.
        Assert.Equal(slowLength, fastLength);
        Assert.Equal(fastBytes.Length, fastLength);
    }

    [Fact]
    public async Task Canonical_fast_path_writes_the_same_bytes_asynchronously()
    {
        var raw = Message("Subject: async\r\n", string.Concat(Enumerable.Repeat("0123456789abcdef\r\n", 10_000)));
        var fast = RawMessage.Create(new MemoryStream(raw, writable: false), canonical: true, out _);
        using var written = new MemoryStream();

        await fast.WriteToAsync(AppendOptions(), written);

        Assert.True(raw.SequenceEqual(written.ToArray()));
        Assert.Equal(written.Length, Measure(fast));
    }

    /// <summary>The options MailKit's APPEND clones and adjusts before measuring and sending a message.</summary>
    private static FormatOptions AppendOptions()
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        options.EnsureNewLine = true;
        return options;
    }

    private static byte[] Write(MimeMessage message)
    {
        using var output = new MemoryStream();
        message.WriteTo(AppendOptions(), output);
        return output.ToArray();
    }

    private static long Measure(MimeMessage message)
    {
        using var measure = new MeasuringStream();
        message.WriteTo(AppendOptions(), measure);
        return measure.Length;
    }

    private static byte[] Message(string headers, string body) => Encoding.UTF8.GetBytes($"{headers}From: a@example.com\r\n\r\n{body}");
}
