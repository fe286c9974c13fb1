using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The IMAP syntax a <see cref="HostileImapServer"/> connection needs beyond <see cref="ImapSyntax"/>: astrings in
/// command arguments and STATUS responses, sequence sets, and the few response shapes it tracks or rewrites. Works on
/// raw line bytes (CRLF included); where a regular expression is handier the line is read as Latin-1, which maps
/// every byte to one char and back.
/// </summary>
internal static partial class HostileSyntax
{
    /// <summary>A mailbox argument: its decoded bytes (atom or quoted string) or the length of the literal that carries them.</summary>
    /// <param name="Start">Index of its first byte in the line.</param>
    /// <param name="End">Index just past it (for a literal: past the "}" that ends the line's text).</param>
    /// <param name="Value">The decoded bytes; null for a literal.</param>
    /// <param name="LiteralLength">For a literal, its length; else -1.</param>
    /// <param name="Synchronizing">For a literal, whether it is "{n}" (the client waits for "+").</param>
    public sealed record Astring(int Start, int End, byte[]? Value, long LiteralLength, bool Synchronizing);

    /// <summary>Index just past the first <paramref name="count"/> space-separated words of a line (tag, verb words, a sequence set), or -1.</summary>
    public static int SkipWords(ReadOnlySpan<byte> line, int count)
    {
        var position = 0;
        for (var i = 0; i < count; i++)
        {
            var space = line[position..].IndexOf((byte)' ');
            if (space < 0)
            {
                return -1;
            }

            position += space + 1;
        }

        return position;
    }

    /// <summary>
    /// The astring at <paramref name="start"/>: a quoted string (backslash escapes undone), a literal "{n}" or "{n+}"
    /// that ends the line, or an atom up to the next space or the line end. Null if there is none or it is malformed.
    /// </summary>
    public static Astring? ReadAstring(ReadOnlySpan<byte> line, int start)
    {
        var text = TrimLineEnd(line);
        if (start < 0 || start >= text.Length)
        {
            return null;
        }

        if (text[start] == (byte)'"')
        {
            var value = new List<byte>();
            for (var i = start + 1; i < text.Length; i++)
            {
                if (text[i] == (byte)'\\' && i + 1 < text.Length)
                {
                    value.Add(text[++i]);
                }
                else if (text[i] == (byte)'"')
                {
                    return new Astring(start, i + 1, [.. value], -1, false);
                }
                else
                {
                    value.Add(text[i]);
                }
            }

            return null;
        }

        if (text[start] == (byte)'{')
        {
            var length = ImapSyntax.LiteralLength(line, out var synchronizing);
            return length >= 0 && text.LastIndexOf((byte)'{') == start ? new Astring(start, text.Length, null, length, synchronizing) : null;
        }

        var end = text[start..].IndexOf((byte)' ');
        end = end < 0 ? text.Length : start + end;
        return end > start ? new Astring(start, end, text[start..end].ToArray(), -1, false) : null;
    }

    /// <summary>
    /// Whether an IMAP sequence set ("1:4,7,9:*") holds <paramref name="number"/>; "*" is taken as the largest number
    /// there is, so "5:*" holds everything from 5 up. A set this cannot read ("$", garbage) holds everything.
    /// </summary>
    public static bool SetContains(string set, uint number)
    {
        foreach (var part in set.Split(','))
        {
            var bounds = part.Split(':');
            if (bounds.Length is < 1 or > 2 || !TryNumber(bounds[0], out var low))
            {
                return true;
            }

            var high = low;
            if (bounds.Length == 2 && !TryNumber(bounds[1], out high))
            {
                return true;
            }

            if (number >= Math.Min(low, high) && number <= Math.Max(low, high))
            {
                return true;
            }
        }

        return false;

        static bool TryNumber(string text, out uint value)
        {
            if (text == "*")
            {
                value = uint.MaxValue;
                return true;
            }

            return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>
    /// The line with the text of a status response replaced by <paramref name="text"/>: "* OK [code] text" or
    /// "TAG NO [code] text" keeps everything up to and including the response code, then gets <paramref name="text"/> and CRLF.
    /// </summary>
    public static byte[] WithText(ReadOnlySpan<byte> line, ReadOnlySpan<byte> text)
    {
        var body = TrimLineEnd(line);
        var keep = SkipWords(body, 2);
        if (keep < 0)
        {
            keep = body.Length;
        }
        else if (keep < body.Length && body[keep] == (byte)'[')
        {
            var close = body[keep..].IndexOf((byte)']');
            keep = close < 0 ? body.Length : keep + close + 1;
        }

        var prefix = body[..keep];
        var needsSpace = prefix.IsEmpty || prefix[^1] != (byte)' ';
        return [.. prefix, .. (needsSpace ? " "u8 : []), .. text, .. "\r\n"u8];
    }

    /// <summary>"* n EXISTS", "* n EXPUNGE", "* n RECENT" ...: the number and the word, if the line is one.</summary>
    public static (uint Number, string Word)? NumberedResponse(string line)
    {
        var match = Numbered().Match(line);
        return match.Success ? (uint.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture), match.Groups[2].Value.ToUpperInvariant()) : null;
    }

    /// <summary>Sequence number and UID of a FETCH response line that carries its UID (on this line).</summary>
    public static (uint Sequence, uint Uid)? FetchUid(string line)
    {
        var match = FetchWithUid().Match(line);
        return match.Success
            ? (uint.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture), uint.Parse(match.Groups[2].ValueSpan, CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>The hierarchy delimiter of a "* LIST (...) "d" name" or LSUB line; null for NIL or another line.</summary>
    public static char? ListDelimiter(string line)
    {
        var match = ListLine().Match(line);
        return match.Success ? match.Groups[1].Value[^1] : null;
    }

    /// <summary>The inside of the parentheses of a "* FLAGS (...)" line, if it is one.</summary>
    public static string? FlagList(string line)
    {
        var match = FlagsLine().Match(line);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>The items of "RETURN (... STATUS (items) ...)" in a LIST command (LIST-STATUS), or null.</summary>
    public static string[]? ListStatusItems(string commandLine)
    {
        var match = ReturnStatus().Match(commandLine);
        return match.Success ? match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries) : null;
    }

    /// <summary>A LIST whose selection options include SPECIAL-USE ("LIST (SPECIAL-USE) ...", RFC 6154).</summary>
    public static bool ListsSpecialUseOnly(string commandLine) => SpecialUseSelection().IsMatch(commandLine);

    /// <summary>Where the mailbox name of a "* LIST (attributes) delimiter name" or LSUB line starts, or -1.</summary>
    public static int ListNameStart(ReadOnlySpan<byte> line)
    {
        var open = line.IndexOf((byte)'(');
        var close = line.IndexOf((byte)')');
        if (open < 0 || close < open || close + 2 >= line.Length)
        {
            return -1;
        }

        var delimiter = ReadAstring(line, close + 2);
        return delimiter is null ? -1 : delimiter.End + 1;
    }

    /// <summary>A LIST whose selection options include SUBSCRIBED ("LIST (SUBSCRIBED) ...").</summary>
    public static bool ListsSubscribedOnly(string commandLine) => SubscribedSelection().IsMatch(commandLine);

    /// <summary>"BODY[]", "BODY.PEEK[]", "BINARY[]" or "BINARY.PEEK[]" (a whole message, maybe partial) in a FETCH command.</summary>
    public static bool FetchesWholeMessage(string commandLine) => WholeMessageItem().IsMatch(commandLine);

    /// <summary>
    /// A response line ending in the literal of a whole message ("BODY[] {n}", "BINARY[] ~{n}", "BODY[]&lt;0&gt; {n}")
    /// with the length replaced by <paramref name="length"/>; null for any other line.
    /// </summary>
    public static byte[]? WithWholeMessageLiteral(ReadOnlySpan<byte> line, long length)
    {
        var text = Encoding.Latin1.GetString(line);
        var match = WholeMessageLiteral().Match(text);
        return match.Success
            ? Encoding.Latin1.GetBytes(text[..match.Groups[1].Index] + "{" + length.ToString(CultureInfo.InvariantCulture) + "}\r\n")
            : null;
    }

    /// <summary>MESSAGES and UIDNEXT values of a STATUS line replaced by <paramref name="value"/>.</summary>
    public static string WithStatusCounts(string line, uint value) =>
        StatusCount().Replace(line, m => m.Groups[1].Value + " " + value.ToString(CultureInfo.InvariantCulture));

    /// <summary>The "[UIDNEXT n]" code's value replaced by <paramref name="value"/>.</summary>
    public static string WithUidNextCode(string line, uint value) =>
        UidNextCode().Replace(line, "[UIDNEXT " + value.ToString(CultureInfo.InvariantCulture) + "]");

    public static ReadOnlySpan<byte> TrimLineEnd(ReadOnlySpan<byte> line)
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

    [GeneratedRegex(@"^\* (\d+) ([A-Za-z]+)\r?\n?$")]
    private static partial Regex Numbered();

    [GeneratedRegex(@"^\* (\d+) FETCH \(.*?\bUID (\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex FetchWithUid();

    [GeneratedRegex(@"^\* (?:LIST|LSUB) \([^)]*\) ""(\\?.)""", RegexOptions.IgnoreCase)]
    private static partial Regex ListLine();

    [GeneratedRegex(@"^\* FLAGS \(([^)]*)\)", RegexOptions.IgnoreCase)]
    private static partial Regex FlagsLine();

    [GeneratedRegex(@"\bRETURN \(.*\bSTATUS \(([^)]*)\)", RegexOptions.IgnoreCase)]
    private static partial Regex ReturnStatus();

    [GeneratedRegex(@"^\S+ LIST \([^)]*\bSUBSCRIBED\b", RegexOptions.IgnoreCase)]
    private static partial Regex SubscribedSelection();

    [GeneratedRegex(@"^\S+ LIST \([^)]*\bSPECIAL-USE\b", RegexOptions.IgnoreCase)]
    private static partial Regex SpecialUseSelection();

    [GeneratedRegex(@"\b(?:BODY|BINARY)(?:\.PEEK)?\[\]", RegexOptions.IgnoreCase)]
    private static partial Regex WholeMessageItem();

    [GeneratedRegex(@"\b(?:BODY|BINARY)\[\](?:<\d+>)? ~?(\{\d+\})\r?\n$", RegexOptions.IgnoreCase)]
    private static partial Regex WholeMessageLiteral();

    [GeneratedRegex(@"\b(MESSAGES|UIDNEXT) \d+", RegexOptions.IgnoreCase)]
    private static partial Regex StatusCount();

    [GeneratedRegex(@"\[UIDNEXT \d+\]", RegexOptions.IgnoreCase)]
    private static partial Regex UidNextCode();
}
