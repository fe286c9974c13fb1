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
    /// The spellings by which a client may name a listed folder in a command, decoded from the astring it sends: the
    /// bytes as listed; those bytes read as UTF-8 (when they are valid UTF-8) and as Latin-1, each encoded in modified
    /// UTF-7 (what a client that decodes names to text and encodes them back sends; for "inv&amp;AGE" that is
    /// "inv&amp;-AGE"). Distinct, in that order.
    /// </summary>
    public static IReadOnlyList<byte[]> Aliases(ReadOnlySpan<byte> listed)
    {
        var aliases = new List<byte[]> { listed.ToArray() };
        void Add(string decoded)
        {
            var encoded = Encoding.ASCII.GetBytes(ModifiedUtf7.Encode(decoded));
            if (!aliases.Any(a => a.AsSpan().SequenceEqual(encoded)))
            {
                aliases.Add(encoded);
            }
        }

        if (System.Text.Unicode.Utf8.IsValid(listed))
        {
            Add(Encoding.UTF8.GetString(listed));
        }

        Add(Encoding.Latin1.GetString(listed));
        return aliases;
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
