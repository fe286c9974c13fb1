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
}
