using System.Text;
using MailSync.Core.Stores;
using MimeKit.IO;
using MimeKit.IO.Filters;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// <see cref="RawMessage.Scan"/>: NUL detection and the "canonical" verdict (every LF follows a CR,
/// the content ends with a line break) that lets APPEND skip the CRLF filter, including LFs that
/// sit right at its 64 KiB read-buffer boundary.
/// </summary>
public sealed class RawMessageScanTests
{
    private const int Block = 65536;

    public static TheoryData<string, byte[], bool, bool> Cases()
    {
        var data = new TheoryData<string, byte[], bool, bool>
        {
            { "empty", [], false, true },
            { "CRLF lines", Ascii("a\r\nb\r\n"), false, true },
            { "one CRLF", Ascii("\r\n"), false, true },
            { "one bare LF", Ascii("\n"), false, false },
            { "bare LF at the start", Ascii("\na\r\nb\r\n"), false, false },
            { "bare LF in the middle", Ascii("a\r\nb\nc\r\n"), false, false },
            { "bare LF at the end", Ascii("a\r\nb\n"), false, false },
            { "no final newline", Ascii("a\r\nb"), false, false },
            { "ends with a lone CR", Ascii("a\r\nb\r"), false, false },
            { "bare CR inside a line", Ascii("a\rb\r\n"), false, true },
            { "CRCRLF", Ascii("a\r\r\n"), false, true },
            { "NUL byte", Ascii("a\0b\r\n"), true, false },
            { "NUL after a bare LF", Ascii("a\nb\0\r\n"), true, false },
        };

        // Across the read buffer: CR is the first block's last byte, LF the second block's first.
        var crlfAcross = Filler(Block + 100);
        crlfAcross[Block - 1] = (byte)'\r';
        crlfAcross[Block] = (byte)'\n';
        data.Add("CR at 65535, LF at 65536", crlfAcross, false, true);

        var bareAcross = Filler(Block + 100);
        bareAcross[Block] = (byte)'\n';
        data.Add("bare LF at 65536", bareAcross, false, false);

        var bareLast = Filler(Block + 100);
        bareLast[Block - 1] = (byte)'\n';
        data.Add("bare LF at 65535 (last byte of the first block)", bareLast, false, false);

        var crlfInside = Filler(Block + 100);
        crlfInside[Block - 2] = (byte)'\r';
        crlfInside[Block - 1] = (byte)'\n';
        data.Add("CRLF ending at 65535", crlfInside, false, true);

        var exactBlock = Filler(Block);
        data.Add("exactly one block, CRLF-terminated", exactBlock, false, true);

        var nulInSecond = Filler(3 * Block);
        nulInSecond[(2 * Block) + 7] = 0;
        data.Add("NUL in the third block", nulInSecond, true, false);

        var bareThenNul = Filler(3 * Block);
        bareThenNul[10] = (byte)'\n';
        bareThenNul[(2 * Block) + 7] = 0;
        data.Add("bare LF in the first block, NUL in the third", bareThenNul, true, false);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Scan_reports_NUL_and_canonical_form(string name, byte[] content, bool hasNul, bool canonical)
    {
        using var stream = new MemoryStream(content, writable: false);

        var result = RawMessage.Scan(stream);

        Assert.True((hasNul, canonical) == result, $"{name}: expected (HasNul {hasNul}, Canonical {canonical}), got {result}");
    }

    [Fact]
    public void Scan_starts_at_the_beginning_and_rewinds()
    {
        using var stream = new MemoryStream(Ascii("a\nb\r\n"));
        stream.Position = 2;

        var result = RawMessage.Scan(stream);

        Assert.Equal((false, false), result);
        Assert.Equal(0, stream.Position);
    }

    /// <summary>
    /// What "canonical" promises: the CRLF filter APPEND would otherwise use (Unix2Dos, ensure a
    /// final newline) leaves such content unchanged, and changes every other non-empty content.
    /// </summary>
    [Fact]
    public void Canonical_means_exactly_that_the_CRLF_filter_changes_nothing()
    {
        var random = new Random(20240611);
        var alphabet = "ab\r\n"u8.ToArray();
        var checkedCanonical = 0;
        for (var i = 0; i < 3000; i++)
        {
            var content = new byte[random.Next(1, 24)];
            for (var j = 0; j < content.Length; j++)
                content[j] = alphabet[random.Next(alphabet.Length)];
            // Bias towards canonical inputs so both outcomes are well covered.
            if (i % 2 == 0)
                content = Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(content).Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n");

            var (_, canonical) = RawMessage.Scan(new MemoryStream(content));
            var filtered = Unix2Dos(content);

            Assert.True(canonical == filtered.SequenceEqual(content),
                $"Scan says canonical={canonical} for {Escape(content)}, the filter writes {Escape(filtered)}");
            checkedCanonical += canonical ? 1 : 0;
        }

        Assert.InRange(checkedCanonical, 1000, 2999);
    }

    private static byte[] Unix2Dos(byte[] content)
    {
        using var output = new MemoryStream();
        using (var filtered = new FilteredStream(output))
        {
            filtered.Add(new Unix2DosFilter(ensureNewLine: true));
            filtered.Write(content, 0, content.Length);
            filtered.Flush();
        }

        return output.ToArray();
    }

    /// <summary>Lines of 'x' ending in CRLF every 100 bytes (the last two bytes are CRLF), no LF elsewhere.</summary>
    private static byte[] Filler(int length)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, (byte)'x');
        for (var i = 99; i < length - 2; i += 100)
        {
            // Keep the bytes around the block boundary free for the cases to set.
            if (i is >= Block - 3 and <= Block + 1)
                continue;
            bytes[i - 1] = (byte)'\r';
            bytes[i] = (byte)'\n';
        }

        bytes[^2] = (byte)'\r';
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static string Escape(byte[] bytes) => Encoding.ASCII.GetString(bytes).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
