using System.Text;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// The exact bytes a <see cref="HostileImapServer"/> puts on the wire where it names folders or writes texts,
/// so tests can look for them (and product tests can check what became of them).
/// </summary>
public static class HostileNames
{
    /// <summary>Levels of <see cref="HostileName.Deep"/>.</summary>
    public const int DeepLevels = 300;

    // Latin-1: each char below 256 is the one byte of the same value.
    private static readonly byte[] s_controlText =
        Encoding.Latin1.GetBytes("nul\0 \u001b[31mred\u001b[0m \u001b]0;pwned\u0007 \u001b[2J bs\u0008 del\u007f csi\u009b1m end");

    private static readonly byte[] s_controlFolder = Encoding.Latin1.GetBytes("ctl\0\u001b[31mred\u001b]0;pwned\u0007\u0001end");

    /// <summary>
    /// The text <see cref="HostileMode.ControlBytes"/> puts into the greeting and into tagged NO and BAD responses: NUL,
    /// an ANSI colour sequence (ESC [ 31 m), a terminal title sequence (ESC ] 0 ; ... BEL), a screen clear, BS, DEL
    /// and an 8-bit CSI (0x9B). No CR or LF: it is the text of one line.
    /// </summary>
    public static ReadOnlySpan<byte> ControlText => s_controlText;

    /// <summary>
    /// The name of the extra folder of <see cref="HostileMode.ControlBytes"/>: NUL, ESC colour and title sequences, BEL;
    /// sent in a quoted string (no CR or LF, so it fits one).
    /// </summary>
    public static ReadOnlySpan<byte> ControlFolder => s_controlFolder;

    /// <summary>The bytes of <paramref name="name"/> as the server sends them, with <paramref name="delimiter"/> as the hierarchy delimiter.</summary>
    public static byte[] Bytes(HostileName name, char delimiter = '/')
    {
        var d = delimiter.ToString();
        return name switch
        {
            HostileName.Utf8Bytes => Encoding.UTF8.GetBytes("Caf\u00e9-8bit"),
            HostileName.Latin1Bytes => Encoding.Latin1.GetBytes("Caf\u00e9-latin1"),
            HostileName.ControlChars => Encoding.Latin1.GetBytes("ctl\u0001\u0007\u001b[1m\u007f\ttab"),
            HostileName.CrLf => Encoding.ASCII.GetBytes("line\r\nbreak"),
            HostileName.InvalidUtf7 => Encoding.ASCII.GetBytes("inv&AGE"),
            HostileName.DotDot => Encoding.ASCII.GetBytes($"..{d}..{d}escape"),
            HostileName.LeadingDelimiter => Encoding.ASCII.GetBytes($"{d}leading"),
            HostileName.TrailingDelimiter => Encoding.ASCII.GetBytes($"trailing{d}"),
            HostileName.Deep => Encoding.ASCII.GetBytes(string.Join(d, Enumerable.Repeat("d", DeepLevels))),
            HostileName.Empty => [],
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
        };
    }

    /// <summary>
    /// The spellings by which a client may name a listed folder in a command, decoded from the astring it sends, in
    /// this order, without repeats: the bytes as listed; those bytes read as UTF-8 (when they are valid UTF-8) and as
    /// Latin-1, each encoded in modified UTF-7 (what a client that decodes names to text and encodes them back sends:
    /// "Caf&amp;AOk--8bit", or "inv&amp;-AGE" for "inv&amp;AGE"); the bytes decoded leniently as modified UTF-7 (an
    /// unclosed shift closed at the end, leftover bits dropped, as MailKit does: "inv&amp;AGE" is "inva") and encoded
    /// back; and the name without leading and trailing <paramref name="delimiter"/>s (MailKit drops a trailing one),
    /// unless that leaves nothing.
    /// </summary>
    public static IReadOnlyList<byte[]> Aliases(ReadOnlySpan<byte> listed, char delimiter = '/')
    {
        var aliases = new List<byte[]>();
        void Add(byte[] alias)
        {
            if (!aliases.Any(a => a.AsSpan().SequenceEqual(alias)))
            {
                aliases.Add(alias);
            }
        }

        Add(listed.ToArray());
        if (System.Text.Unicode.Utf8.IsValid(listed))
        {
            Add(Encoding.ASCII.GetBytes(ModifiedUtf7.Encode(Encoding.UTF8.GetString(listed))));
        }

        var latin1 = Encoding.Latin1.GetString(listed);
        Add(Encoding.ASCII.GetBytes(ModifiedUtf7.Encode(latin1)));
        Add(Encoding.ASCII.GetBytes(ModifiedUtf7.Encode(DecodeModifiedUtf7Leniently(latin1))));
        var trimmed = latin1.Trim(delimiter);
        if (trimmed.Length > 0 && trimmed.Length < latin1.Length)
        {
            Add(Encoding.Latin1.GetBytes(trimmed));
        }

        return aliases;
    }

    /// <summary>
    /// Modified UTF-7 (RFC 3501 5.1.3) decoded without ever failing: "&amp;-" is "&amp;", a shift runs to "-" or the end,
    /// its base64 (with "," for "/") is read 16 bits per char and bits left over are dropped, and a char outside the
    /// alphabet ends the shift. Valid names decode as they should.
    /// </summary>
    public static string DecodeModifiedUtf7Leniently(string name)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
        var output = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (name[i] != '&')
            {
                output.Append(name[i]);
                continue;
            }

            if (i + 1 < name.Length && name[i + 1] == '-')
            {
                output.Append('&');
                i++;
                continue;
            }

            int bits = 0, count = 0;
            for (i++; i < name.Length && name[i] != '-'; i++)
            {
                var value = alphabet.IndexOf(name[i], StringComparison.Ordinal);
                if (value < 0)
                {
                    i--; // not base64: the shift ends here, the char is read as itself
                    break;
                }

                bits = (bits << 6) | value;
                count += 6;
                if (count >= 16)
                {
                    count -= 16;
                    output.Append((char)((bits >> count) & 0xFFFF));
                }
            }
        }

        return output.ToString();
    }

    /// <summary>
    /// <paramref name="name"/> as an IMAP astring the way this server sends it: a quoted string (backslash and double
    /// quote escaped, every other byte as it is, NUL and 8-bit included) unless it holds CR or LF, then a synchronizing
    /// literal ("{n}" CRLF and the bytes), which a server may send without waiting.
    /// </summary>
    public static byte[] Astring(ReadOnlySpan<byte> name)
    {
        var output = new List<byte>(name.Length + 16);
        if (name.IndexOfAny((byte)'\r', (byte)'\n') >= 0)
        {
            output.AddRange(Encoding.ASCII.GetBytes($"{{{name.Length}}}\r\n"));
            output.AddRange(name);
            return [.. output];
        }

        output.Add((byte)'"');
        foreach (var b in name)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                output.Add((byte)'\\');
            }

            output.Add(b);
        }

        output.Add((byte)'"');
        return [.. output];
    }

}
