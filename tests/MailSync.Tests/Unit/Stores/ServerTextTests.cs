using MailSync.Core.Stores;

namespace MailSync.Tests.Unit.Stores;

/// <summary>Server text made printable: nothing a terminal or a log line could act on gets through as it is.</summary>
public sealed class ServerTextTests
{
    public static TheoryData<string, string, string> Rows() => new()
    {
        { "plain text unchanged", "INBOX/Projects 2024", "INBOX/Projects 2024" },
        { "non-ASCII letters unchanged", "Entwürfe/Été/受信", "Entwürfe/Été/受信" },
        { "NUL", "a\0b", "a\\x00b" },
        { "ESC of a colour sequence", "\u001b[31mred", "\\x1B[31mred" },
        { "OSC window title with BEL", "\u001b]0;pwned\u0007", "\\x1B]0;pwned\\x07" },
        { "CR LF that would forge a log line", "x\r\n[ERR] forged", "x\\x0D\\x0A[ERR] forged" },
        { "C1 CSI", "\u009b2J", "\\x9B2J" },
        { "DEL", "a\u007fb", "a\\x7Fb" },
        { "right-to-left override", "exe\u202Etxt.pdf", "exe\\u202Etxt.pdf" },
        { "backslash kept", "a\\b", "a\\b" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Control_characters_and_direction_overrides_are_escaped(string name, string raw, string expected)
        => Assert.True(expected == ServerText.Escape(raw), $"{name}: {ServerText.Escape(raw)}");

    [Fact]
    public void Raw_bytes_print_as_ASCII_with_every_other_byte_escaped()
    {
        byte[] raw = [.. "* LIST "u8, 0xFF, 0x00, 0x1B, .. "[2J ok"u8];
        Assert.Equal("* LIST \\xFF\\x00\\x1B[2J ok", ServerText.Escape(raw));
    }
}
