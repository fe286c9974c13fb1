using System.Text;
using MailSync.Core.Stores;
using MailSync.Core.Stores.Imap;

namespace MailSync.Tests.Unit.Stores;

/// <summary>
/// <see cref="ImapResponseGuard"/>: what a server sends after a command, fed in every possible
/// chunking, either passes or stops with an error naming the limit (small limits, so each row
/// shows its bound); and a command's deadline grows with the bytes moved, not with a size claimed.
/// </summary>
public sealed class ImapResponseGuardTests
{
    private static readonly ServerLimits Small = new()
    {
        ResponseLineBytes = 64, LiteralBytes = 16, Folders = 3, StatusResponsesPerCommand = 4, MinBytesPerSecond = 100,
    };

    /// <summary>Name, what the server sends after "A1 ..." was written, the error's words (null: accepted).</summary>
    public static TheoryData<string, string, string?> Rows() => new()
    {
        { "an ordinary answer", "* 3 EXISTS\r\n* OK [UIDNEXT 4] x\r\nA1 OK done\r\n", null },
        { "a line at the cap", $"* SEARCH {new string('1', 52)}\r\nA1 OK\r\n", null },
        { "a line past the cap, never ended", $"* LIST () \"/\" {new string('x', 200)}", "maxResponseLineBytes" },
        { "a message body literal larger than the literal cap is a body, streamed", "* 1 FETCH (UID 1 BODY[] {40}\r\n" + new string('b', 40) + ")\r\nA1 OK\r\n", null },
        { "a binary body literal", "* 1 FETCH (UID 1 BINARY[] ~{40}\r\n" + new string('b', 40) + ")\r\nA1 OK\r\n", null },
        { "a partial body literal", "* 1 FETCH (UID 1 BODY[]<0> {40}\r\n" + new string('b', 40) + ")\r\nA1 OK\r\n", null },
        { "a header literal past the literal cap", "* 1 FETCH (UID 1 BODY[HEADER] {40}\r\n", "maxLiteralBytes" },
        { "a folder name literal past the literal cap", "* LIST () \"/\" {17}\r\n", "maxLiteralBytes" },
        { "a literal after a bare LF is still a literal", "* 1 FETCH (UID 1 BODY[] {80}\n" + new string('b', 80) + ")\r\nA1 OK\r\n", null },
        { "a literal's bytes are not lines", "* LIST () \"/\" {6}\r\nA1 OK\r\n\r\nA1 OK\r\n", null },
        { "untagged status responses up to the cap", "* OK a\r\n* OK b\r\n* NO c\r\n* BAD d\r\nA1 OK\r\n", null },
        { "a flood of untagged status responses", "* OK a\r\n* OK b\r\n* OK c\r\n* OK d\r\n* OK e\r\n", "untagged responses without data" },
        { "unknown untagged responses count as no data", "* X a\r\n* Y b\r\n* Z c\r\n* W d\r\n* V e\r\n", "untagged responses without data" },
        { "data responses do not count", "* FLAGS ()\r\n* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\n* 3 FETCH (FLAGS ())\r\n* STATUS x (MESSAGES 1)\r\n* CAPABILITY IMAP4rev1\r\nA1 OK\r\n", null },
        { "folders up to the cap", "* LIST () \"/\" a\r\n* LIST () \"/\" b\r\n* LSUB () \"/\" c\r\nA1 OK\r\n", null },
        { "more folders than the cap", "* LIST () \"/\" a\r\n* LIST () \"/\" b\r\n* LIST () \"/\" c\r\n* LIST () \"/\" d\r\n", "maxFolders" },
        { "a continuation request does not end the command", "+ go ahead\r\n* OK a\r\n* OK b\r\n* OK c\r\n* OK d\r\n* OK e\r\n", "untagged responses without data" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_server_answer_passes_or_stops_with_the_limit_named(string name, string answer, string? error)
    {
        var bytes = Encoding.Latin1.GetBytes(answer);
        // Every split into two reads, and byte by byte.
        var chunkings = Enumerable.Range(0, bytes.Length + 1).Select(split => new[] { bytes[..split], bytes[split..] })
            .Append([.. bytes.Select(b => new[] { b })]);
        foreach (var chunks in chunkings)
        {
            var guard = new ImapResponseGuard(Small, TimeSpan.FromSeconds(5), TimeProvider.System);
            guard.Wrote(10);
            var thrown = Record.Exception(() =>
            {
                foreach (var chunk in chunks)
                    guard.Read(chunk);
            });
            if (error is null)
                Assert.True(thrown is null, $"{name}: {thrown?.Message}");
            else
                Assert.True(thrown is ServerMisbehavedException && thrown.Message.Contains(error, StringComparison.Ordinal), $"{name}: {thrown?.Message ?? "accepted"}");
        }
    }

    [Fact]
    public void The_counters_start_again_with_each_command()
    {
        var guard = new ImapResponseGuard(Small, TimeSpan.FromSeconds(5), TimeProvider.System);
        for (var command = 0; command < 10; command++)
        {
            guard.Wrote(10);
            guard.Read("* OK a\r\n* OK b\r\n* OK c\r\n* LIST () \"/\" a\r\n* LIST () \"/\" b\r\nA1 OK\r\n"u8);
        }
    }

    [Fact]
    public void A_commands_deadline_is_the_grace_plus_the_time_its_bytes_allow_never_a_claimed_size()
    {
        var clock = new ManualClock();
        var guard = new ImapResponseGuard(Small, TimeSpan.FromSeconds(5), clock);
        Assert.Null(guard.Remaining());
        guard.Wrote(100); // 1 s at 100 bytes/s
        Assert.Equal(TimeSpan.FromSeconds(6), guard.Remaining());
        // A literal announced as 2 GiB buys nothing: only the bytes that came count.
        guard.Read("* 1 FETCH (UID 1 BODY[] {2147483648}\r\n"u8);
        clock.Advance(TimeSpan.FromSeconds(4));
        var remaining = guard.Remaining()!.Value;
        Assert.InRange(remaining.TotalSeconds, 2.3, 2.5);
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.True(guard.Remaining() < TimeSpan.Zero);
        // The tagged answer ends the command's window.
        var done = new ImapResponseGuard(Small, TimeSpan.FromSeconds(5), clock);
        done.Wrote(10);
        done.Read("A1 OK\r\n"u8);
        Assert.Null(done.Remaining());
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
