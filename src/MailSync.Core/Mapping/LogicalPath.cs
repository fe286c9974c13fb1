using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>
/// Turns server mailbox names into logical segments and back. Segments, not strings, are the unit:
/// a '.'-delimited server may have a folder literally named "a/b", which must stay one segment.
/// </summary>
internal static class LogicalPath
{
    public const string Inbox = "INBOX";

    public static bool IsInbox(string name) => string.Equals(name, Inbox, StringComparison.OrdinalIgnoreCase);

    /// <summary>The "/"-joined form users write in include/exclude/rename rules.</summary>
    public static string Join(IReadOnlyList<string> segments) => string.Join('/', segments);

    /// <summary>Splits a user-written logical path; empty segments from stray slashes are dropped.</summary>
    public static string[] Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// The logical segments of a listed folder: namespace prefix stripped, split on the folder's
    /// delimiter (the namespace's when the folder reports none), INBOX spelled canonically.
    /// </summary>
    public static string[] Segments(FolderInfo folder, NamespaceInfo ns)
    {
        var name = folder.FullName;
        if (IsInbox(name))
        {
            return [Inbox];
        }

        var delimiter = folder.Delimiter != '\0' ? folder.Delimiter : ns.Delimiter;
        var prefix = NormalizedPrefix(ns.Prefix, delimiter);

        // Courier and Cyrus put every folder under "INBOX."; servers disagree on its case.
        if (prefix.Length > 0 && name.Length > prefix.Length
            && name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            name = name[prefix.Length..];
        }

        var segments = delimiter == '\0' ? [name] : name.Split(delimiter);

        // "inbox/Sub" and "INBOX/Sub" are the same hierarchy on servers where INBOX has children.
        if (segments.Length > 1 && IsInbox(segments[0]))
        {
            segments[0] = Inbox;
        }

        return segments;
    }

    /// <summary>
    /// A namespace prefix that ends with its delimiter, so "INBOX" announced without the dot still
    /// strips and composes as "INBOX.".
    /// </summary>
    public static string NormalizedPrefix(string prefix, char delimiter) =>
        prefix.Length > 0 && delimiter != '\0' && prefix[^1] != delimiter ? prefix + delimiter : prefix;
}
