using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>Composes target mailbox names from logical segments in the target's syntax.</summary>
internal sealed class TargetNamer(NamespaceInfo ns)
{
    /// <summary>What replaces a character the target cannot hold inside a segment.</summary>
    private const char Replacement = '_';

    private readonly string prefix = LogicalPath.NormalizedPrefix(ns.Prefix, ns.Delimiter);

    public bool IsFlat => ns.Delimiter == '\0';

    /// <summary>
    /// Segments the target can represent: a segment holding the target delimiter would silently
    /// become two levels, so the character is replaced and the caller warns.
    /// </summary>
    public string[] Sanitize(IReadOnlyList<string> segments, out bool changed)
    {
        changed = false;
        var result = new string[segments.Count];
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (!IsFlat && segment.Contains(ns.Delimiter, StringComparison.Ordinal))
            {
                segment = segment.Replace(ns.Delimiter, Replacement);
                changed = true;
            }

            result[i] = segment;
        }

        return result;
    }

    /// <summary>
    /// The full target name of already sanitized segments. The inbox is "INBOX" whatever the
    /// namespace: Courier's "INBOX." prefix does not apply to INBOX itself.
    /// </summary>
    public string Compose(IReadOnlyList<string> segments)
    {
        if (segments.Count == 1 && LogicalPath.IsInbox(segments[0]))
        {
            return LogicalPath.Inbox;
        }

        // A flat server has no hierarchy; '_' keeps the levels readable in one name.
        var separator = IsFlat ? Replacement : ns.Delimiter;
        return prefix + string.Join(separator, segments);
    }
}
