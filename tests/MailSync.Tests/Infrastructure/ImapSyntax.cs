using System.Text;
using System.Text.RegularExpressions;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The little IMAP syntax an <see cref="ImapFaultProxy"/> needs: literal markers at line ends, a command's tag
/// and verb, the start of a server response. Works on raw line bytes (LF included); message bytes inside
/// literals never get here.
/// </summary>
internal static partial class ImapSyntax
{
    // 18 digits fit a long; longer is no literal any server or client here sends.
    private const int MaxLiteralDigits = 18;

    /// <summary>
    /// The length of the literal announced at the end of <paramref name="line"/> ("{n}", "{n+}", or literal8
    /// "~{n}"), or -1 when the line ends without one. <paramref name="synchronizing"/>: "{n}" without '+',
    /// so the client waits for a "+" continuation before sending the bytes.
    /// </summary>
    public static long LiteralLength(ReadOnlySpan<byte> line, out bool synchronizing)
    {
        synchronizing = false;
        var text = TrimLineEnd(line);
        if (text.Length < 3 || text[^1] != (byte)'}')
        {
            return -1;
        }

        var open = text.LastIndexOf((byte)'{');
        if (open < 0)
        {
            return -1;
        }

        var digits = text[(open + 1)..^1];
        var nonSynchronizing = !digits.IsEmpty && digits[^1] == (byte)'+';
        if (nonSynchronizing)
        {
            digits = digits[..^1];
        }

        if (digits.IsEmpty || digits.Length > MaxLiteralDigits)
        {
            return -1;
        }

        long length = 0;
        foreach (var digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return -1;
            }

            length = (length * 10) + (digit - '0');
        }

        synchronizing = !nonSynchronizing;
        return length;
    }

    /// <summary>
    /// Tag and upper-case verb of a command's first line; "UID" takes the next word along ("UID FETCH"),
    /// as that pair is what the command does.
    /// </summary>
    public static (string Tag, string Verb) ParseCommand(ReadOnlySpan<byte> line)
    {
        var rest = TrimLineEnd(line);
        var tag = NextToken(ref rest);
        var verb = Encoding.Latin1.GetString(NextToken(ref rest)).ToUpperInvariant();
        if (verb == "UID")
        {
            var sub = NextToken(ref rest);
            if (!sub.IsEmpty)
            {
                verb += " " + Encoding.Latin1.GetString(sub).ToUpperInvariant();
            }
        }

        return (Encoding.Latin1.GetString(tag), verb);
    }

    /// <summary>The first word of a server line: "*", "+", or a tag.</summary>
    public static ReadOnlySpan<byte> FirstToken(ReadOnlySpan<byte> line)
    {
        var text = TrimLineEnd(line);
        var space = text.IndexOf((byte)' ');
        return space < 0 ? text : text[..space];
    }

    /// <summary>Whether a server response starts "* n FETCH".</summary>
    public static bool IsFetchResponse(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("* "u8))
        {
            return false;
        }

        var rest = line[2..];
        var digits = 0;
        while (digits < rest.Length && rest[digits] is >= (byte)'0' and <= (byte)'9')
        {
            digits++;
        }

        rest = rest[digits..];
        return digits > 0 && rest.Length > 6 && Ascii.EqualsIgnoreCase(rest[..6], " FETCH"u8) && rest[6] is (byte)' ' or (byte)'(';
    }

    /// <summary>
    /// <paramref name="line"/> without COMPRESS=DEFLATE if it is a capability list that has it ("* CAPABILITY ..."
    /// or a "[CAPABILITY ...]" response code), else null. The proxy cannot relay a compressed stream it has to parse.
    /// </summary>
    public static byte[]? WithoutCompress(ReadOnlySpan<byte> line)
    {
        // A byte scan first: nearly every line has no "compress" at all and is never decoded.
        if (line.IndexOf("COMPRESS="u8) < 0 && line.IndexOf("compress="u8) < 0 && line.IndexOf("Compress="u8) < 0)
        {
            return null;
        }

        var text = Encoding.Latin1.GetString(line);
        if (!text.Contains("CAPABILITY", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var stripped = CompressDeflate().Replace(text, "");
        return stripped.Length == text.Length ? null : Encoding.Latin1.GetBytes(stripped);
    }

    private static ReadOnlySpan<byte> TrimLineEnd(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\n')
        {
            line = line[..^1];
        }

        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        return line;
    }

    private static ReadOnlySpan<byte> NextToken(ref ReadOnlySpan<byte> rest)
    {
        var space = rest.IndexOf((byte)' ');
        var token = space < 0 ? rest : rest[..space];
        rest = space < 0 ? [] : rest[(space + 1)..];
        return token;
    }

    [GeneratedRegex(@" COMPRESS=DEFLATE(?=[ \]\r\n]|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CompressDeflate();
}
