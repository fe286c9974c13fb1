using System.Globalization;
using System.Text;

namespace MailSync.Core.Stores;

/// <summary>
/// Text that came from a server, made safe to print: every control character (C0, DEL, C1: NUL,
/// ESC and the CSI that starts terminal escape sequences, CR, LF, BEL…) and every Unicode
/// direction override is written as a visible escape (<c>\x1B</c>, <c>\u202E</c>), so a
/// server's bytes can never move the cursor, retitle a terminal, hide text or split a log line.
/// Backslashes are left as they are: a folder named <c>a\b</c> prints as itself.
/// </summary>
public static class ServerText
{
    /// <summary><paramref name="text"/> with every character a terminal or log could act on escaped; null stays null.</summary>
    public static string? Escape(string? text)
    {
        if (text is null)
            return null;
        var clean = true;
        foreach (var c in text)
        {
            if (NeedsEscape(c))
            {
                clean = false;
                break;
            }
        }

        if (clean)
            return text;
        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
            Append(builder, c);
        return builder.ToString();
    }

    /// <summary>
    /// A whole rendered text (a log line with a stack trace) escaped except for its line breaks and
    /// tabs, which are the renderer's own; what a server sent inside it is escaped already.
    /// </summary>
    public static string EscapeKeepingLines(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\n' or '\r' or '\t')
                builder.Append(c);
            else
                Append(builder, c);
        }

        return builder.ToString();
    }

    /// <summary>A C0, DEL or C1 control character: what a terminal may act on.</summary>
    public static bool IsControl(char c) => c < 0x20 || c is >= '\u007F' and <= '\u009F';

    /// <summary>Raw bytes as printable text: printable ASCII as it is, every other byte as <c>\xNN</c>.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and < 0x7F)
                builder.Append((char)b);
            else
                builder.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
        }

        return builder.ToString();
    }

    private static bool NeedsEscape(char c) => IsControl(c) || IsDirectionControl(c);

    // Bidirectional overrides and isolates can make printed text read differently from its bytes.
    private static bool IsDirectionControl(char c) => c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069' or '\u200E' or '\u200F' or '\u061C';

    private static void Append(StringBuilder builder, char c)
    {
        if (IsControl(c))
            builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
        else if (IsDirectionControl(c))
            builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
        else
            builder.Append(c);
    }
}
