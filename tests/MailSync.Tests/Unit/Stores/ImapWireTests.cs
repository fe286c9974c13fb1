using System.Text;
using MailSync.Core.Stores.Imap;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// <see cref="ImapWire"/>'s outgoing side: a literal announced as binary goes out as "~{n}", nothing
/// else changes, whatever the chunks MailKit writes in (every split point is tried), and a literal's
/// own bytes are never looked into.
/// </summary>
public sealed class ImapWireTests
{
    public static TheoryData<string, string, long[], string> Cases() => new()
    {
        { "announced literal becomes binary", "A1 APPEND INBOX (\\Seen) {5}\r\nab\0cd\r\n", [5], "A1 APPEND INBOX (\\Seen) ~{5}\r\nab\0cd\r\n" },
        { "non-synchronizing literal", "A1 APPEND INBOX {5+}\r\nab\0cd\r\n", [5], "A1 APPEND INBOX ~{5+}\r\nab\0cd\r\n" },
        { "nothing announced: unchanged", "A1 APPEND INBOX {5}\r\nabcde\r\n", [], "A1 APPEND INBOX {5}\r\nabcde\r\n" },
        { "another length: unchanged", "A1 APPEND INBOX {5}\r\nabcde\r\n", [6], "A1 APPEND INBOX {5}\r\nabcde\r\n" },
        { "a literal header inside a literal is data", "A1 APPEND INBOX {9}\r\nx{3}\r\nabc\r\nA2 NOOP\r\n", [3], "A1 APPEND INBOX {9}\r\nx{3}\r\nabc\r\nA2 NOOP\r\n" },
        { "braces that are no literal header", "A1 SEARCH SUBJECT \"{x}\" {oops} {12\r\n", [12], "A1 SEARCH SUBJECT \"{x}\" {oops} {12\r\n" },
        { "second of two literals", "A1 APPEND \"F\" {3}\r\nabc {4}\r\nw\0yz\r\n", [4], "A1 APPEND \"F\" {3}\r\nabc ~{4}\r\nw\0yz\r\n" },
        { "a long run of digits is released unchanged", "A1 X {123456789012345678901234567890123}\r\n", [], "A1 X {123456789012345678901234567890123}\r\n" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Outgoing_bytes_change_only_where_a_binary_literal_was_announced(string name, string sent, long[] binary, string expected)
    {
        var input = Encoding.Latin1.GetBytes(sent);
        for (var split = 0; split <= input.Length; split++)
        {
            var output = new MemoryStream();
            var wire = new ImapWire(output);
            foreach (var length in binary)
                wire.ExpectBinaryLiteral(length);
            await wire.WriteAsync(input.AsMemory(0, split));
            await wire.WriteAsync(input.AsMemory(split));
            await wire.FlushAsync();
            Assert.True(expected == Encoding.Latin1.GetString(output.ToArray()), $"{name}, split at {split}: «{Encoding.Latin1.GetString(output.ToArray())}»");
        }
    }

    [Fact]
    public async Task Byte_by_byte_writes_give_the_same_result()
    {
        var input = Encoding.Latin1.GetBytes("A1 APPEND INBOX {5}\r\nab\0cd\r\nA2 NOOP {x}\r\n");
        var output = new MemoryStream();
        var wire = new ImapWire(output);
        wire.ExpectBinaryLiteral(5);
        foreach (var b in input)
            await wire.WriteAsync(new[] { b });
        Assert.Equal("A1 APPEND INBOX ~{5}\r\nab\0cd\r\nA2 NOOP {x}\r\n", Encoding.Latin1.GetString(output.ToArray()));
    }

    [Fact]
    public async Task A_read_that_outlasts_the_read_timeout_fails_with_a_timeout_and_breaks_the_wire()
    {
        var wire = new ImapWire(new NeverAnswers()) { ReadTimeout = 100 };
        await Assert.ThrowsAsync<TimeoutException>(async () => await wire.ReadExactlyAsync(new byte[10]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wire.ReadExactlyAsync(new byte[10]));
    }

    /// <summary>A connection that never sends anything.</summary>
    private sealed class NeverAnswers : MemoryStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }
}
