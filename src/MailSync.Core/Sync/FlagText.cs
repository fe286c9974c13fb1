using MailKit;

namespace MailSync.Core.Sync;

/// <summary>Flags as the ledger stores them: IMAP spelling, space-separated, sorted, so two sides compare as strings.</summary>
public static class FlagText
{
    private static readonly (MessageFlags Flag, string Name)[] Names =
    [
        (MessageFlags.Answered, "\\Answered"),
        (MessageFlags.Deleted, "\\Deleted"),
        (MessageFlags.Draft, "\\Draft"),
        (MessageFlags.Flagged, "\\Flagged"),
        (MessageFlags.Seen, "\\Seen"),
    ];

    /// <summary>The flags an APPEND may set (\Recent is the server's own).</summary>
    public const MessageFlags Settable = MessageFlags.Answered | MessageFlags.Deleted | MessageFlags.Draft | MessageFlags.Flagged | MessageFlags.Seen;

    public static string Format(MessageFlags flags, IEnumerable<string> keywords)
        => string.Join(' ', Names.Where(n => (flags & n.Flag) != 0).Select(n => n.Name)
            .Concat(keywords.OrderBy(k => k, StringComparer.Ordinal)));

    /// <summary>The inverse of <see cref="Format"/>: system flags and keywords of a ledger string.</summary>
    public static (MessageFlags Flags, List<string> Keywords) Parse(string text)
    {
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        foreach (var token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var known = Array.FindIndex(Names, n => string.Equals(n.Name, token, StringComparison.OrdinalIgnoreCase));
            if (known >= 0)
                flags |= Names[known].Flag;
            else if (!token.StartsWith('\\'))
                keywords.Add(token);
        }

        return (flags, keywords);
    }
}
